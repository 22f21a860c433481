"""The base of the cores' typed, frozen configs: validated once, immutable, with a stable id."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from processors.ids import make_id


class FrozenConfig(BaseModel):
    """A frozen config that rejects unknown fields; ``config_id`` hashes every value under ``id_kind``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id_kind: ClassVar[str] = "cfg"

    @property
    def config_id(self) -> str:
        """Short stable hash of this config (``<id_kind>-...``): equal configs, equal ids."""
        return make_id(self.id_kind, self.model_dump_json())
