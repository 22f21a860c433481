"""The paper exchange: a pure, deterministic matching model implementing ``ExecutionVenue``."""

from processors.execution.paper.config import PaperExchangeConfig
from processors.execution.paper.exchange import PaperExchange
from processors.execution.paper.order import PaperOrder

__all__ = ["PaperExchange", "PaperExchangeConfig", "PaperOrder"]
