"""Every model builds on `domain.orm.Model`, which spares each process's start tortoise's
reading of the model's source for field comments."""

from __future__ import annotations

import importlib
import inspect

from tortoise.models import Model as TortoiseModel

from domain.db import MODEL_MODULES
from domain.orm import Model


def test_given_the_models_when_imported_then_each_builds_on_podiums_base():
    models = [
        cls
        for name in MODEL_MODULES
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass)
        if issubclass(cls, TortoiseModel) and cls.__module__ == name
    ]

    assert len(models) >= 50
    assert [m.__name__ for m in models if not issubclass(m, Model)] == []
    assert all(m.__dict__.get("_no_comments") for m in models)
