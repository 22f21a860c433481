"""Execution: the venue interface (``venue.py``), the paper exchange core (``paper/``) and the live ccxt adapter."""
