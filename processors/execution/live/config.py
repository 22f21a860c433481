"""Configuration of the live (ccxt) venue of one instance: which exchange, market, account mode, retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from processors.config import FrozenConfig

if TYPE_CHECKING:
    from hbot.settings import InstanceConfig
    from processors.instance import InstanceSetup


class RetryPolicy(BaseModel):
    """Bounded exponential backoff for transient exchange errors (429, 5xx, timeouts, maintenance)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_retries: int = Field(default=4, ge=0, le=20, description="Retries after the first attempt; 0 = never retry.")
    base_delay_s: float = Field(default=0.25, ge=0.0, description="Delay before the first retry.")
    multiplier: float = Field(default=2.0, ge=1.0, description="Each further delay is this many times the previous one.")
    max_delay_s: float = Field(default=8.0, ge=0.0, description="No single delay is longer than this.")

    def delays(self) -> list[float]:
        """The sleep before each retry, in order (``max_retries`` values)."""
        return [min(self.max_delay_s, self.base_delay_s * self.multiplier**i) for i in range(self.max_retries)]


class LiveVenueConfig(FrozenConfig):
    """One instance's live execution through ccxt."""

    id_kind: ClassVar[str] = "livecfg"

    exchange_id: str = Field(min_length=1, description="ccxt exchange id, e.g. 'bitget'.")
    symbol: str = Field(min_length=1, description="ccxt unified symbol, e.g. 'BTC/USDT:USDT'.")
    market_type: Literal["perp", "spot"] = "perp"
    sandbox: bool = Field(default=False, description="Exchange testnet / demo trading (ccxt set_sandbox_mode).")
    unified_account: bool = Field(
        default=False,
        description="Bitget unified trading account (v3 API). Set explicitly: unset, ccxt would probe the account with an extra call.",
    )
    margin_mode: Literal["cross", "isolated"] = Field(default="cross", description="Perp margin mode sent with every order.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_ms: int = Field(default=10_000, gt=0, description="HTTP timeout of one request.")
    rate_limit_ms: int | None = Field(
        default=None, ge=1, description="ccxt's spacing between requests (enableRateLimit is always on); None = the exchange's default."
    )
    cancel_all_scope: Literal["symbol", "own"] = Field(
        default="symbol",
        description="CANCEL_ALL: 'symbol' cancels every order of the account on the symbol (one request; the kill switch's choice), "
        "'own' only the orders this venue placed (when several instances share an account and symbol).",
    )
    fills_page_limit: int = Field(default=100, ge=1, le=100, description="Trades asked per fetch_my_trades call (Bitget's maximum is 100).")
    fills_max_pages: int = Field(default=10, ge=1, description="Pages of older fills fetched in one poll when a page comes back full.")
    fill_lookback_ms: int = Field(default=300_000, ge=0, description="On a fresh start, fills this far back are read (and deduplicated).")
    trade_dedup_window: int = Field(default=4096, ge=1, description="Exchange trade ids remembered to drop replayed fills.")
    done_order_window: int = Field(default=4096, ge=1, description="Closed client order ids remembered (a replayed PLACE is not sent again).")
    max_reason_chars: int = Field(default=400, ge=40, description="Reject / note reasons are cut to this length.")
    fee_asset: str = Field(default="USDT", min_length=1, description="fill.fee_asset when the exchange does not say.")
    poll_interval_s: float = Field(default=1.0, gt=0, le=60, description="How often the execution worker reads fills and open orders from the exchange.")

    @model_validator(mode="after")
    def _perp_symbol_has_settle(self) -> "LiveVenueConfig":
        if self.market_type == "perp" and ":" not in self.symbol:
            raise ValueError(f"symbol {self.symbol!r} is a spot symbol but market_type is perp; use e.g. 'BTC/USDT:USDT'")
        if self.market_type == "spot" and ":" in self.symbol:
            raise ValueError(f"symbol {self.symbol!r} is a contract symbol but market_type is spot; use e.g. 'BTC/USDT'")
        return self

    @property
    def ccxt_market_type(self) -> str:
        """ccxt's market type of this config: 'swap' or 'spot'."""
        return "swap" if self.market_type == "perp" else "spot"


def live_venue_config(inst: "InstanceConfig") -> LiveVenueConfig:
    """The live venue config of an instance: its exchange, symbol and market type plus its ``live:`` settings.

    Raises ``ConfigError`` naming ``instances[<id>].live.<field>``; ``live`` cannot change the market.
    """
    from hbot.settings import ConfigError, describe_validation_error

    where = f"instances[{inst.id}].live"
    fixed = sorted({"exchange_id", "symbol", "market_type"} & set(inst.live))
    if fixed:
        raise ConfigError(f"{where} sets {fixed}: the venue trades its instance's own exchange, symbol and market_type; remove them")
    try:
        return LiveVenueConfig.model_validate({**inst.live, "exchange_id": inst.exchange, "symbol": inst.symbol,
                                               "market_type": inst.market_type})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix=f"{where}.", source="the instances file")) from None


def live_configs(setups: "list[InstanceSetup]") -> dict[str, LiveVenueConfig]:
    """Each live instance's config by instance id; raises ``ConfigError`` naming the YAML path of a bad setting."""
    from hbot.settings import ConfigError

    for s in setups:
        if s.instance.exchange == "synthetic":
            raise ConfigError(f"instances[{s.id}].execution is 'live' on the synthetic exchange; set execution: paper")
    return {s.id: live_venue_config(s.instance) for s in setups}
