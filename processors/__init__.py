"""Agents and their pure cores, one package per role.

Each ``processors/<role>/`` holds a pure core (no Kafka, no I/O, no wall clock: time comes in with
the events) and a thin Faust agent that decodes, calls the core and encodes.
"""
