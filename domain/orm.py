"""The base of Podium's tortoise models: tortoise's own, told that they carry no ``#:``
field comments. Looking for them, tortoise reads and parses each model's module source as it
defines the model (`inspect.getsource`): for Podium's 52 models, 60-110 ms of the start of
every process (a `podium` command, an API process, a worker)."""

from __future__ import annotations

from typing import Any

from tortoise.models import Model as TortoiseModel
from tortoise.models import ModelMeta


class _ModelMeta(ModelMeta):
    __slots__ = ()

    def __new__(cls, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> ModelMeta:
        attrs.setdefault("_no_comments", True)
        return super().__new__(cls, name, bases, attrs)


class Model(TortoiseModel, metaclass=_ModelMeta):
    class Meta:
        abstract = True
