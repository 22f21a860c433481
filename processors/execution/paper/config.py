"""Configuration of the paper exchange: fees, slippage, latencies, funding, starting account."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from processors.config import FrozenConfig


class PaperExchangeConfig(FrozenConfig):
    """Paper matching model parameters. Defaults follow spec ROAD-2 (maker 2 bp, taker 6 bp, 1 bp slippage)."""

    id_kind: ClassVar[str] = "papercfg"

    maker_fee_bps: float = Field(default=2.0, description="Fee on maker fills, bps of notional (negative = rebate).")
    taker_fee_bps: float = Field(default=6.0, description="Fee on taker fills, bps of notional.")
    taker_slippage_bps: float = Field(default=1.0, ge=0, description="Taker fills execute this many bps worse than the book level.")
    order_latency_ms: float = Field(default=50.0, ge=0, description="Event time from a PLACE to the order resting (ACK) at the venue.")
    cancel_latency_ms: float = Field(default=50.0, ge=0, description="Event time from a CANCEL to it taking effect; fills can happen meanwhile.")
    is_perp: bool = Field(default=True, description="Perpetual: funding settlements are paid / received.")
    initial_balance_quote: float = Field(default=10_000.0, description="Starting quote balance of a fresh paper account.")
    initial_position_base: float = Field(default=0.0, description="Starting position of a fresh paper account.")
    fee_asset: str = Field(default="USDT", min_length=1, description="Asset fees are charged in (fill.fee_asset).")
    queue_shrinks_with_level: bool = Field(
        default=True,
        description="When the book shows less size at our level than the queue ahead, others cancelled: move up.",
    )
    trade_dedup_window: int = Field(default=1024, ge=1, description="Recent market trade ids remembered (duplicates ignored).")
    done_order_window: int = Field(default=4096, ge=1, description="Recent closed client order ids remembered (a replayed PLACE is ignored).")

    @property
    def order_latency_us(self) -> int:
        """Order latency in microseconds."""
        return int(round(self.order_latency_ms * 1000.0))

    @property
    def cancel_latency_us(self) -> int:
        """Cancel latency in microseconds."""
        return int(round(self.cancel_latency_ms * 1000.0))
