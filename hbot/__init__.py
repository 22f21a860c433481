"""hbot: a crypto market-making desk built as a Kafka stream-processing pipeline."""

__version__ = "0.1.0"
