"""A mypy plugin: ``.get("Key")`` on a TypedDict that has no such key is an error.

mypy rejects ``cluster["Statsu"]`` on a TypedDict, but lets ``cluster.get("Statsu")`` through
(typed ``object``), and the checks read most response keys with ``.get``. With this plugin
(pyproject ``[tool.mypy] plugins``) both are errors, so a misspelt response key in a collector
or a check fails ``mypy``. Only the lint loads this module (mypy is a development dependency).
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.errorcodes import TYPEDDICT_ITEM
from mypy.plugin import MethodContext, Plugin
from mypy.plugins.default import typed_dict_get_callback
from mypy.typeops import try_getting_str_literals
from mypy.types import Type, TypedDictType, get_proper_type


def _get_with_known_key(ctx: MethodContext) -> Type:
    receiver = get_proper_type(ctx.type)
    if isinstance(receiver, TypedDictType) and ctx.args and len(ctx.args[0]) == 1:
        keys = try_getting_str_literals(ctx.args[0][0], ctx.arg_types[0][0]) or []
        for key in keys:
            if key not in receiver.items:
                name = receiver.fallback.type.name if receiver.fallback else "TypedDict"
                ctx.api.fail(f'TypedDict "{name}" has no key "{key}"', ctx.context, code=TYPEDDICT_ITEM)
    return typed_dict_get_callback(ctx)


class TypedDictGetKeys(Plugin):
    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _get_with_known_key if fullname == "typing.Mapping.get" else None


def plugin(version: str) -> type[Plugin]:
    return TypedDictGetKeys
