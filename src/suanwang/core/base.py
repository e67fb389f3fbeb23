"""Shared pydantic base for frozen, validated domain values."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ISO2 = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")]
"""An uppercase ISO 3166-1 alpha-2 country code such as ``"CN"`` or ``"HK"``."""

Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=80,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="lowercase kebab-case identifier",
    ),
]
"""A stable lowercase kebab-case identifier such as ``"cn-zhangjiakou"``."""

Latitude = Annotated[float, Field(ge=-90.0, le=90.0, description="degrees north")]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0, description="degrees east")]
Micros = Annotated[int, Field(ge=0, description="money in integer micro-units of a currency")]


class Frozen(BaseModel):
    """Immutable value object: unknown fields are rejected and strings are stripped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
