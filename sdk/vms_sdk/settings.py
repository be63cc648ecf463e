"""Plug-in settings declared as a pydantic model, checked once, errors naming the key.

Declare what the operator may write in ``[plugins.<name>]`` as fields, with types,
defaults and bounds; :meth:`PluginSettings.parse` checks a table and raises
:class:`~vms_sdk.errors.ConfigError` naming the setting by its path
(``channels.slack.url``, ``lines[0].a``)::

    from pydantic import Field
    from vms_sdk.settings import PluginSettings

    class ShotSettings(PluginSettings):
        secret: str | None = Field(default=None, min_length=16)
        radius_m: float = Field(default=200.0, gt=0)

    ShotSettings.parse({"radius_m": -1})  # ConfigError("radius_m", "must be > 0 ...")

Unknown keys are refused (a typo is not silently ignored), numbers are not taken from
booleans, and the model is frozen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError

from vms_sdk.errors import ConfigError


class SettingError(ValueError):
    """Raise from a validator to name a setting below the one validated
    (``SettingError("url", "required")`` in a channel's validator gives
    ``channels.slack.url: required``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


def _whole(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def _id(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a camera id or name")
    return str(value)


Number = Annotated[float, BeforeValidator(_number)]
"""A number from TOML: an int or a float, never a boolean or a string."""
PositiveNumber = Annotated[float, BeforeValidator(_number), Field(gt=0)]
Whole = Annotated[int, BeforeValidator(_whole)]
"""A whole number, never a boolean."""
Flag = StrictBool
"""``true`` or ``false`` (not 1, not "yes")."""
CameraRef = Annotated[str, BeforeValidator(_id)]
"""A camera id (``3`` or ``"3"``, kept as the string ``"3"``) or name."""


class PluginSettings(BaseModel):
    """Base class of a plug-in's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, populate_by_name=True)

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> Self:
        """The settings in ``config`` (the plug-in's table, without the server's keys).

        :raises ConfigError: for the first wrong setting, its key as a dotted path.
        """
        try:
            return cls.model_validate(dict(config))
        except ValidationError as exc:
            raise config_error(exc, cls) from None


def key_path(location: tuple[int | str, ...]) -> str:
    """``("lines", 0, "a")`` as ``lines[0].a``."""
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def config_error(exc: ValidationError, model: type[BaseModel]) -> ConfigError:
    """The first problem of ``exc`` as a ``ConfigError``."""
    error = exc.errors(include_url=False)[0]
    location = tuple(p for p in error["loc"] if not _is_union_tag(p))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, SettingError):
        return ConfigError(key_path((*location, cause.key)), cause.message)
    kind = error["type"]
    if kind == "missing" and location and isinstance(location[-1], int):
        # A fixed-length list given too few items ([lat] for [lat, lon]): the list's key.
        return ConfigError(key_path(location[:-1]), "too few items")
    key = key_path(location) or "(settings)"
    if kind == "extra_forbidden":
        parent: Any = model
        for part in location[:-1]:  # field names lead to models; dict keys and indexes stay
            parent = _field_model(parent, part) or parent
        known = (
            sorted(f.alias or n for n, f in parent.model_fields.items())
            if isinstance(parent, type) and issubclass(parent, BaseModel)
            else []
        )
        message = "unknown setting" + (f" (known: {', '.join(known)})" if known else "")
    elif kind == "missing":
        message = "required"
    else:
        message = str(error["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        message = message[:1].lower() + message[1:]
        given = error.get("input")
        if not isinstance(given, dict | list):
            message += f", got {given!r}"
    return ConfigError(key, message)


def _is_union_tag(part: int | str) -> bool:
    # pydantic names the member of a union it tried (``function-after[...]``, ``str``).
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool"))


def _field_model(model: Any, name: int | str) -> Any:
    if not isinstance(model, type) or not issubclass(model, BaseModel):
        return None
    field = model.model_fields.get(str(name))
    if field is None:
        return None
    annotation = field.annotation
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        for inner in getattr(candidate, "__args__", ()):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None
