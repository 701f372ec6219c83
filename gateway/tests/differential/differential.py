#!/usr/bin/env python3
"""Differential testing of two GraphQL gateways over the same subgraphs.

Generates random but valid operations from a Federation v2 supergraph's API
schema, sends each one to two gateways ("ours" and "ref", the reference) with
the same headers and variables, and reports every difference between their
answers. See README.md beside this file for how to run it and how to read the
report; run.sh starts the subgraphs and both gateways and calls this script.

Needs Python 3.9+ and graphql-core 3.2 (pip install 'graphql-core>=3.2,<3.3').
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import copy
import dataclasses
import datetime as dt
import decimal
import hashlib
import http.client
import json
import os
import random
import re
import socket
import sys
import time
import urllib.parse
from typing import Any, Optional

try:
    import graphql
    from graphql import (
        GraphQLSchema,
        build_ast_schema,
        get_named_type,
        is_abstract_type,
        is_composite_type,
        is_enum_type,
        is_input_object_type,
        is_interface_type,
        is_leaf_type,
        is_list_type,
        is_non_null_type,
        is_object_type,
        is_scalar_type,
        is_union_type,
        parse,
        print_ast,
        validate,
        validate_schema,
    )
    from graphql.language import ast as A
    from graphql.language import parse_type
except ImportError:  # pragma: no cover
    sys.stderr.write("differential.py needs graphql-core: pip install 'graphql-core>=3.2,<3.3'\n")
    sys.exit(2)

MISSING = object()

# --------------------------------------------------------------------------
# API schema from a supergraph
# --------------------------------------------------------------------------

EXECUTABLE_LOCATIONS = {
    "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD", "INLINE_FRAGMENT", "VARIABLE_DEFINITION",
}
BUILT_IN_DIRECTIVES = {"skip", "include", "deprecated", "specifiedBy"}
KEPT_SCHEMA_DIRECTIVES = {"deprecated", "specifiedBy"}
BUILT_IN_SCALARS = {"Int", "Float", "String", "Boolean", "ID"}


def _copy(node, **changes):
    kw = {k: getattr(node, k, None) for k in node.keys}
    kw.update(changes)
    return node.__class__(**kw)


def _directive_names(node) -> list[str]:
    return [d.name.value for d in (getattr(node, "directives", None) or ())]


def _named(type_node) -> str:
    while not isinstance(type_node, A.NamedTypeNode):
        type_node = type_node.type
    return type_node.name.value


@dataclasses.dataclass
class Supergraph:
    schema: GraphQLSchema
    # "Type.field" -> subgraph names that resolve it (from join__field / join__type)
    owners: dict
    graphs: dict  # join__Graph enum value -> subgraph name
    urls: dict  # subgraph name -> url


def load_supergraph(sdl: str) -> Supergraph:
    """Builds the API schema: drops the link/join machinery, every linked
    spec's types and directives, and everything marked @inaccessible."""
    doc = parse(sdl, no_location=True)
    prefixes = {"link__", "join__"}
    linked_directives = {"link", "core"}
    inaccessible = {"inaccessible"}
    join = "join"
    for d in doc.definitions:
        if not isinstance(d, (A.SchemaDefinitionNode, A.SchemaExtensionNode)):
            continue
        for use in d.directives or ():
            if use.name.value not in ("link", "core"):
                continue
            args = {a.name.value: a.value for a in use.arguments or ()}
            url = args.get("url") or args.get("feature")
            if not isinstance(url, A.StringValueNode):
                continue
            m = re.search(r"/([A-Za-z_][A-Za-z0-9_]*)/v[0-9.]+/?$", url.value)
            if not m:
                continue
            spec = m.group(1)
            alias = args["as"].value if isinstance(args.get("as"), A.StringValueNode) else spec
            prefixes.add(alias + "__")
            linked_directives.add(alias)
            if spec == "inaccessible":
                inaccessible.add(alias)
            if spec == "join":
                join = alias
            imports = args.get("import")
            if isinstance(imports, A.ListValueNode):
                for item in imports.values:
                    if isinstance(item, A.StringValueNode):
                        name = item.value.lstrip("@")
                        linked_directives.add(name)
                        if spec == "inaccessible":
                            inaccessible.add(name)
                    elif isinstance(item, A.ObjectValueNode):
                        f = {x.name.value: x.value.value for x in item.fields}
                        name = (f.get("as") or f.get("name", "")).lstrip("@")
                        linked_directives.add(name)
                        if spec == "inaccessible" or f.get("name", "").lstrip("@") == "inaccessible":
                            inaccessible.add(name)

    def hidden(node) -> bool:
        return any(n in inaccessible for n in _directive_names(node))

    def machinery(name: str) -> bool:
        return any(name.startswith(p) for p in prefixes)

    def strip(node):
        dirs = tuple(x for x in (node.directives or ()) if x.name.value in KEPT_SCHEMA_DIRECTIVES)
        return _copy(node, directives=dirs)

    # Subgraph ownership, for coverage statistics only.
    graphs, urls, owners = {}, {}, {}
    type_graphs = collections.defaultdict(set)
    for d in doc.definitions:
        if isinstance(d, A.EnumTypeDefinitionNode) and d.name.value == f"{join}__Graph":
            for v in d.values or ():
                for use in v.directives or ():
                    if use.name.value == f"{join}__graph":
                        a = {x.name.value: x.value.value for x in use.arguments}
                        graphs[v.name.value] = a.get("name", v.name.value)
                        urls[a.get("name", v.name.value)] = a.get("url")
    for d in doc.definitions:
        if not hasattr(d, "fields") or not hasattr(d, "name"):
            continue
        for use in d.directives or ():
            if use.name.value == f"{join}__type":
                for x in use.arguments:
                    if x.name.value == "graph":
                        type_graphs[d.name.value].add(graphs.get(x.value.value, x.value.value))
    for d in doc.definitions:
        if not isinstance(d, (A.ObjectTypeDefinitionNode, A.InterfaceTypeDefinitionNode)):
            continue
        for f in d.fields or ():
            gs = set()
            for use in f.directives or ():
                if use.name.value != f"{join}__field":
                    continue
                a = {x.name.value: x.value for x in use.arguments}
                ext = a.get("external")
                if isinstance(ext, A.BooleanValueNode) and ext.value:
                    continue
                g = a.get("graph")
                if isinstance(g, A.EnumValueNode):
                    gs.add(graphs.get(g.value, g.value))
            owners[f"{d.name.value}.{f.name.value}"] = gs or set(type_graphs.get(d.name.value, ()))

    dropped: set[str] = set()
    for d in doc.definitions:
        if isinstance(d, A.TypeDefinitionNode) and (machinery(d.name.value) or hidden(d)):
            dropped.add(d.name.value)
    defs = list(doc.definitions)
    while True:
        out = []
        for d in defs:
            if isinstance(d, A.DirectiveDefinitionNode):
                name = d.name.value
                locs = {l.value for l in d.locations}
                if machinery(name) or name in linked_directives or name in BUILT_IN_DIRECTIVES:
                    continue
                if not locs & EXECUTABLE_LOCATIONS:
                    continue
                out.append(_copy(d, arguments=tuple(strip(a) for a in d.arguments or ())))
            elif isinstance(d, (A.SchemaDefinitionNode, A.SchemaExtensionNode)):
                ops = tuple(o for o in d.operation_types or () if o.type.name.value not in dropped)
                out.append(_copy(d, directives=(), operation_types=ops))
            elif isinstance(d, (A.TypeDefinitionNode, A.TypeExtensionNode)):
                if d.name.value in dropped:
                    continue
                d = strip(d)
                if hasattr(d, "interfaces") and d.interfaces is not None:
                    d = _copy(d, interfaces=tuple(i for i in d.interfaces if i.name.value not in dropped))
                if isinstance(d, (A.ObjectTypeDefinitionNode, A.InterfaceTypeDefinitionNode,
                                  A.ObjectTypeExtensionNode, A.InterfaceTypeExtensionNode)):
                    fields = []
                    for f in d.fields or ():
                        if hidden(f) or _named(f.type) in dropped:
                            continue
                        args = tuple(strip(a) for a in f.arguments or ()
                                     if not hidden(a) and _named(a.type) not in dropped)
                        fields.append(_copy(strip(f), arguments=args))
                    d = _copy(d, fields=tuple(fields))
                elif isinstance(d, (A.InputObjectTypeDefinitionNode, A.InputObjectTypeExtensionNode)):
                    d = _copy(d, fields=tuple(strip(f) for f in d.fields or ()
                                              if not hidden(f) and _named(f.type) not in dropped))
                elif isinstance(d, (A.EnumTypeDefinitionNode, A.EnumTypeExtensionNode)):
                    d = _copy(d, values=tuple(strip(v) for v in d.values or () if not hidden(v)))
                elif isinstance(d, (A.UnionTypeDefinitionNode, A.UnionTypeExtensionNode)):
                    d = _copy(d, types=tuple(t for t in d.types or () if t.name.value not in dropped))
                out.append(d)
            else:
                out.append(d)
        # A type left empty is dropped too, and whatever referred to it.
        newly = set()
        for d in out:
            if isinstance(d, A.TypeDefinitionNode):
                empty = ((hasattr(d, "fields") and not isinstance(d, A.ScalarTypeDefinitionNode) and not d.fields)
                         or (isinstance(d, A.UnionTypeDefinitionNode) and not d.types)
                         or (isinstance(d, A.EnumTypeDefinitionNode) and not d.values))
                if empty:
                    newly.add(d.name.value)
        if not newly:
            break
        dropped |= newly
        defs = out
    schema = build_ast_schema(A.DocumentNode(definitions=tuple(out)))
    errors = validate_schema(schema)
    if errors:
        raise ValueError("the API schema is not valid: " + "; ".join(e.message for e in errors[:5]))
    return Supergraph(schema=schema, owners=owners, graphs=graphs, urls=urls)


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------


class Client:
    """One keep-alive connection to a gateway (used from one thread at a time)."""

    def __init__(self, url: str, headers: dict, timeout: float):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
        self.https = u.scheme == "https"
        self.path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.headers = headers
        self.timeout = timeout
        self.conn = None

    def _connect(self):
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        self.conn = cls(self.host, self.port, timeout=self.timeout)

    def post(self, body: bytes):
        """Returns (status, text, seconds, transport_error). A request on a
        kept-alive connection that fails is tried once more on a new one;
        nothing else is retried (a request that makes the gateway drop the
        connection is reported, not repeated)."""
        last = None
        for attempt in range(2):
            reused = self.conn is not None
            if self.conn is None:
                self._connect()
            t0 = time.monotonic()
            try:
                self.conn.request("POST", self.path, body=body, headers=self.headers)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, data.decode("utf-8", "replace"), time.monotonic() - t0, None
            except (OSError, http.client.HTTPException) as e:
                last = f"{type(e).__name__}: {e}"
                try:
                    self.conn.close()
                except Exception:
                    pass
                self.conn = None
                if not reused or isinstance(e, socket.timeout):
                    break
        return None, "", 0.0, last


# --------------------------------------------------------------------------
# Values found in the data (discovery)
# --------------------------------------------------------------------------


class Values:
    """Scalar values seen in answers, by Type.field and by field name."""

    CAP = 300

    def __init__(self):
        self.by_coord = collections.defaultdict(list)
        self.by_name = collections.defaultdict(list)
        self._seen = set()

    def add(self, type_name: str, field: str, value):
        if value is None or isinstance(value, (dict, list)):
            return
        key = (type_name, field, json.dumps(value))
        if key in self._seen:
            return
        self._seen.add(key)
        if len(self.by_coord[(type_name, field)]) < self.CAP:
            self.by_coord[(type_name, field)].append(value)
        if len(self.by_name[field]) < self.CAP:
            self.by_name[field].append(value)

    def walk(self, schema: GraphQLSchema, parent, value):
        """Records the leaves of an answer whose selections carry __typename
        and no aliases."""
        if isinstance(value, list):
            for v in value:
                self.walk(schema, parent, v)
            return
        if not isinstance(value, dict):
            return
        t = schema.get_type(value.get("__typename", "")) if value.get("__typename") else parent
        if t is None or not is_composite_type(t) or is_union_type(t):
            return
        for k, v in value.items():
            f = t.fields.get(k)
            if f is None:
                continue
            named = get_named_type(f.type)
            if is_leaf_type(named):
                for x in (v if isinstance(v, list) else [v]):
                    self.add(t.name, k, x)
            else:
                self.walk(schema, named, v)

    def count(self) -> int:
        return sum(len(v) for v in self.by_coord.values())

    def to_json(self):
        return {f"{t}.{f}": v[:20] for (t, f), v in sorted(self.by_coord.items())}


# --------------------------------------------------------------------------
# Operation generation
# --------------------------------------------------------------------------


class EnumVal(str):
    """An enum value (printed without quotes in a literal)."""


@dataclasses.dataclass
class ArgCtx:
    owner: str  # type holding the argument or input field
    field: str  # field the argument belongs to ("" for input fields)
    ret: str  # named return type of that field ("" for input fields)
    name: str  # argument or input field name


@dataclasses.dataclass
class VarInfo:
    name: str
    type: Any  # GraphQL input type of the variable
    default: Any  # python value or MISSING
    send: bool
    value: Any  # python value sent when send


@dataclasses.dataclass
class FragInfo:
    name: str
    type_cond: str
    node: Any
    height: int
    fields: int = 0  # fields in its body, fragments included


@dataclasses.dataclass
class RespEntry:
    ptypes: frozenset
    field: str
    args: Optional[tuple]
    shape: str
    coord: str


@dataclasses.dataclass
class Config:
    max_depth: int = 6
    max_fields: int = 36
    p_var: float = 0.35
    p_weird: float = 0.04
    roots: Optional[list] = None  # query root fields to use; None = all


def _type_shape(t) -> str:
    out = ""
    while True:
        if is_non_null_type(t):
            out += "!"
            t = t.of_type
        elif is_list_type(t):
            out += "["
            t = t.of_type
        else:
            break
    return out + (t.name if is_leaf_type(t) else "{}")


def _camel_words(s: str) -> list[str]:
    return re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", s)


class OpState:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.vars: dict[str, VarInfo] = {}
        self.frags: dict[str, FragInfo] = {}
        self.resp: dict[str, list[RespEntry]] = collections.defaultdict(list)
        self.fields = 0
        self.features = collections.Counter()
        self.coords = set()
        self.lists = 0
        self.frag_counter = 0
        self.owner_stack: list = []


class Generator:
    def __init__(self, sg: Supergraph, values: Values, cfg: Config, now: dt.datetime):
        self.sg = sg
        self.s = sg.schema
        self.values = values
        self.cfg = cfg
        self.now = now
        q = self.s.query_type
        self.roots = [n for n in q.fields if cfg.roots is None or n in cfg.roots]
        if not self.roots:
            raise ValueError("no root field to generate operations from")
        self.rejected = collections.Counter()
        self.redraws = 0  # field choices dropped because their response name was taken

    # ---- possible types --------------------------------------------------
    def possible(self, t) -> frozenset:
        if is_abstract_type(t):
            return frozenset(x.name for x in self.s.get_possible_types(t))
        return frozenset([t.name])

    def type_conditions(self, parent) -> list:
        """Composite types a fragment may be spread on inside `parent`."""
        mine = self.possible(parent)
        out = []
        for t in self.s.type_map.values():
            if t.name.startswith("__") or not is_composite_type(t):
                continue
            if self.possible(t) & mine:
                out.append(t)
        return out

    # ---- values ------------------------------------------------------------
    def _known(self, ctx: ArgCtx) -> list:
        """Values seen in the data that fit an argument, most specific
        source first: the returned type's field of the argument's name
        (user(id) -> User.id), the type an ...Id argument names
        (brandId -> Brand.id, fromProgrammeId -> Programme.id), the cursors
        of the returned connection (after), then any field of that name."""
        v = self.values
        n = ctx.name
        tiers = []
        if ctx.ret:
            tiers.append(v.by_coord.get((ctx.ret, n), []))
            if n in ("id", "ids"):
                tiers.append(v.by_coord.get((ctx.ret, "id"), []))
        m = re.match(r"^(.*?)(Id|Ids|ID|IDs)$", n)
        if m and m.group(1):
            words = _camel_words(m.group(1)[0].upper() + m.group(1)[1:])
            for i in range(len(words)):
                tname = "".join(words[i:])
                if self.s.get_type(tname) is not None:
                    tiers.append(v.by_coord.get((tname, "id"), []))
                    break
        if n == "after" and ctx.ret:
            rt = self.s.get_type(ctx.ret)
            if rt is not None and is_object_type(rt) and "edges" in rt.fields:
                et = get_named_type(rt.fields["edges"].type)
                tiers.append(v.by_coord.get((et.name, "cursor"), []))
        if ctx.owner:
            tiers.append(v.by_coord.get((ctx.owner, n), []))
        synonyms = {"lat": "latitude", "lng": "longitude", "lon": "longitude",
                    "latitude": "lat", "longitude": "lng"}
        tiers.append(v.by_name.get(n, []) + (v.by_name.get(synonyms[n], []) if n in synonyms else []))
        if n.endswith("s") and len(n) > 3:
            tiers.append(v.by_name.get(n[:-1], []))
        for t in tiers:
            if t:
                return t
        return []

    def _scalar(self, rng, t, ctx: ArgCtx, weird: bool):
        name = t.name
        n = ctx.name.lower()
        known = [] if weird else self._known(ctx)
        if name == "Int":
            ks = [k for k in known if isinstance(k, int) and not isinstance(k, bool)]
            if n in ("first", "last", "limit", "take", "top", "count", "size"):
                return rng.choice([0, -1, 101, 1000]) if weird else rng.choice([1, 1, 2, 3, 5, 10])
            if "day" in n:
                return rng.choice([0, -5, 100000]) if weird else rng.randint(1, 60)
            if ks and rng.random() < 0.8:
                return rng.choice(ks)
            return rng.choice([-1, 0, 2**31 - 1]) if weird else rng.randint(0, 10)
        if name == "Float":
            ks = [k for k in known if isinstance(k, (int, float)) and not isinstance(k, bool)]
            if "radius" in n or "distance" in n:
                return rng.choice([0.0, -1.0, 1e6]) if weird else float(rng.choice([1, 2.5, 5, 20]))
            if ks and rng.random() < 0.9:
                return float(rng.choice(ks))
            return rng.choice([0.0, -180.5, 1.5e10]) if weird else round(rng.uniform(-10, 10), 3)
        if name == "Boolean":
            return rng.random() < 0.5
        # ID, String and custom scalars.
        if weird:
            return rng.choice(["", "does-not-exist", "0", " ", "ünïcödé-∑"])
        ks = [str(k) for k in known if isinstance(k, (str, int)) and not isinstance(k, bool)]
        low = name.lower()
        if "datetime" in low or "timestamp" in low or "instant" in low:
            ks = [k for k in ks if re.match(r"\d{4}-\d\d-\d\dT", k)]
            if ks and rng.random() < 0.5:
                return rng.choice(ks)
            when = self.now - dt.timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 23))
            return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        if "date" in low:
            ks = [k for k in ks if re.match(r"^\d{4}-\d\d-\d\d$", k)]
            if ks and rng.random() < 0.5:
                return rng.choice(ks)
            return (self.now.date() - dt.timedelta(days=rng.randint(0, 400))).isoformat()
        if low in ("json", "jsonobject", "any", "object"):
            return {"k": rng.choice(["v", 1, True])}
        if n in ("period", "month"):
            months = [self.now.strftime("%Y-%m"), (self.now.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")]
            return rng.choice(months)
        if n == "search" or n == "query" or n == "q":
            words = [w for k in self.values.by_name.get("name", []) if isinstance(k, str) for w in k.split()]
            return rng.choice(words) if words and rng.random() < 0.8 else ""
        if ks and rng.random() < 0.9:
            return rng.choice(ks)
        if name == "ID":
            return rng.choice(["1", "2", "unknown-id"])
        return rng.choice(["a", "test", ""])

    def gen_value(self, st: OpState, t, ctx: ArgCtx, weird: Optional[bool] = None):
        """A python value for input type t (EnumVal for enum values)."""
        rng = st.rng
        if weird is None:
            weird = rng.random() < self.cfg.p_weird
            if weird:
                st.features["weird value"] += 1
        if is_non_null_type(t):
            return self.gen_value(st, t.of_type, ctx, weird)
        if is_list_type(t):
            n = rng.choice([1, 1, 2, 3]) if not weird else rng.choice([0, 4])
            items = [self.gen_value(st, t.of_type, ctx, weird) for _ in range(n)]
            if n == 1 and rng.random() < 0.1:
                st.features["list input coercion (single value)"] += 1
                return items[0]
            return items
        if is_enum_type(t):
            names = list(t.values)
            known = [k for k in self._known(ctx) if k in t.values]
            if known and rng.random() < 0.7:
                return EnumVal(rng.choice(known))
            return EnumVal(rng.choice(names))
        if is_input_object_type(t):
            out = {}
            for fname, f in t.fields.items():
                required = is_non_null_type(f.type) and f.default_value is graphql.Undefined
                if required or rng.random() < 0.4:
                    out[fname] = self.gen_value(st, f.type, ArgCtx(t.name, "", "", fname), weird)
            # from/to pairs in order, so that a period is valid
            if "from" in out and "to" in out and isinstance(out["from"], str) and isinstance(out["to"], str):
                a, b = sorted([out["from"], out["to"]])
                out["from"], out["to"] = a, b
            return out
        return self._scalar(rng, t, ctx, weird)

    def literal(self, st: OpState, t, value, ctx: ArgCtx, allow_vars=True):
        """AST of a python value as a literal of type t; may put a variable
        in place of an input-object field's value."""
        if value is None:
            return A.NullValueNode()
        if is_non_null_type(t):
            return self.literal(st, t.of_type, value, ctx, allow_vars)
        if is_list_type(t):
            if isinstance(value, list):
                return A.ListValueNode(values=tuple(self.literal(st, t.of_type, v, ctx, allow_vars) for v in value))
            return self.literal(st, t.of_type, value, ctx, allow_vars)
        if is_input_object_type(t):
            fields = []
            for k, v in value.items():
                ft = t.fields[k].type
                if allow_vars and st.rng.random() < self.cfg.p_var / 3:
                    node = self.variable_for(st, ft, ArgCtx(t.name, "", "", k), value=v)
                    st.features["variable inside an input object"] += 1
                else:
                    node = self.literal(st, ft, v, ArgCtx(t.name, "", "", k), allow_vars)
                fields.append(A.ObjectFieldNode(name=A.NameNode(value=k), value=node))
            return A.ObjectValueNode(fields=tuple(fields))
        if is_enum_type(t):
            return A.EnumValueNode(value=str(value))
        return self.untyped_literal(st, value, t)

    def untyped_literal(self, st, value, t=None):
        if value is None:
            return A.NullValueNode()
        if isinstance(value, bool):
            return A.BooleanValueNode(value=value)
        if isinstance(value, int):
            return A.IntValueNode(value=str(value))
        if isinstance(value, float):
            if t is not None and t.name == "Float" and value.is_integer() and st.rng.random() < 0.3:
                st.features["int literal for a Float"] += 1
                return A.IntValueNode(value=str(int(value)))
            return A.FloatValueNode(value=repr(value))
        if isinstance(value, dict):
            return A.ObjectValueNode(fields=tuple(
                A.ObjectFieldNode(name=A.NameNode(value=k), value=self.untyped_literal(st, v)) for k, v in value.items()))
        if isinstance(value, list):
            return A.ListValueNode(values=tuple(self.untyped_literal(st, v) for v in value))
        if isinstance(value, EnumVal):
            return A.EnumValueNode(value=str(value))
        if t is not None and t.name == "ID" and re.fullmatch(r"[1-9][0-9]{0,8}", value) and st.rng.random() < 0.25:
            st.features["int literal for an ID"] += 1
            return A.IntValueNode(value=value)
        return A.StringValueNode(value=value)

    @staticmethod
    def to_json(value):
        if isinstance(value, dict):
            return {k: Generator.to_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [Generator.to_json(v) for v in value]
        if isinstance(value, EnumVal):
            return str(value)
        return value

    def new_var(self, st: OpState, prefix: str) -> str:
        i = len(st.vars)
        while f"{prefix}{i}" in st.vars:
            i += 1
        return f"{prefix}{i}"

    def variable_for(self, st: OpState, loc_type, ctx: ArgCtx, value=MISSING):
        """A variable used at a location of type loc_type: its definition
        (type, default) and whether/what is sent are chosen at random."""
        rng = st.rng
        tstr = str(loc_type)
        # Reuse a variable of the same type now and then.
        same = [v for v in st.vars.values() if str(v.type) == tstr and not v.name.startswith("if")]
        if same and rng.random() < 0.25:
            st.features["variable used twice"] += 1
            return A.VariableNode(name=A.NameNode(value=rng.choice(same).name))
        name = self.new_var(st, "v")
        if value is MISSING:
            value = self.gen_value(st, loc_type, ctx)
        vtype, default, send = loc_type, MISSING, True
        r = rng.random()
        if is_non_null_type(loc_type):
            if r < 0.45:
                pass  # $v: T! sent
            elif r < 0.8:
                # nullable variable with a non-null default in a non-null position
                vtype = loc_type.of_type
                default = self.gen_value(st, loc_type, ctx)
                send = rng.random() < 0.5
                st.features["nullable variable with default in non-null position"] += 1
            else:
                default = self.gen_value(st, loc_type, ctx)
                send = rng.random() < 0.5
        else:
            if r < 0.35:
                send = rng.random() < 0.7  # $v: T, maybe not sent (argument then absent)
                if not send:
                    st.features["nullable variable not sent"] += 1
            elif r < 0.9:
                default = self.gen_value(st, loc_type, ctx)
                send = rng.random() < 0.5
            else:
                value = None  # explicit null
                st.features["variable sent as null"] += 1
        if default is not MISSING:
            st.features["variable default used" if not send else "variable default overridden"] += 1
        elif send:
            st.features["variable sent"] += 1
        st.vars[name] = VarInfo(name, vtype, default, send, value)
        return A.VariableNode(name=A.NameNode(value=name))

    def bool_var(self, st: OpState) -> str:
        rng = st.rng
        same = [v for v in st.vars.values() if v.name.startswith("if")]
        if same and rng.random() < 0.3:
            return rng.choice(same).name
        name = self.new_var(st, "if")
        r = rng.random()
        if r < 0.4:
            info = VarInfo(name, graphql.GraphQLNonNull(graphql.GraphQLBoolean), MISSING, True, rng.random() < 0.5)
        else:
            info = VarInfo(name, graphql.GraphQLBoolean, rng.random() < 0.5, rng.random() < 0.5, rng.random() < 0.5)
            if r < 0.7:  # Boolean! with a default
                info.type = graphql.GraphQLNonNull(graphql.GraphQLBoolean)
        st.features["@skip/@include with a variable default" if not info.send else "@skip/@include with a sent variable"] += 1
        st.vars[name] = info
        return name

    def directives(self, st: OpState, p: float = 0.14) -> tuple:
        rng = st.rng
        if rng.random() >= p:
            return ()
        out = []
        kinds = ["skip", "include"]
        rng.shuffle(kinds)
        for k in kinds[: 2 if rng.random() < 0.1 else 1]:
            if rng.random() < 0.5:
                val = A.BooleanValueNode(value=rng.random() < 0.5)
                st.features[f"@{k} literal"] += 1
            else:
                val = A.VariableNode(name=A.NameNode(value=self.bool_var(st)))
                st.features[f"@{k} variable"] += 1
            out.append(A.DirectiveNode(name=A.NameNode(value=k), arguments=(
                A.ArgumentNode(name=A.NameNode(value="if"), value=val),)))
        if len(out) == 2:
            st.features["@skip and @include together"] += 1
        return tuple(out)

    def gen_args(self, st: OpState, parent, fname, fdef) -> tuple:
        rng = st.rng
        out = []
        ret = get_named_type(fdef.type).name
        for aname, a in fdef.args.items():
            required = is_non_null_type(a.type) and a.default_value is graphql.Undefined
            if not required and rng.random() < 0.55:
                continue
            ctx = ArgCtx(parent.name, fname, ret, aname)
            if rng.random() < self.cfg.p_var:
                node = self.variable_for(st, a.type, ctx)
            else:
                node = self.literal(st, a.type, self.gen_value(st, a.type, ctx), ctx)
                st.features["literal argument"] += 1
            out.append(A.ArgumentNode(name=A.NameNode(value=aname), value=node))
        return tuple(out)

    # ---- selections --------------------------------------------------------
    def typename(self, st: OpState, parent):
        rng = st.rng
        coord = f"{parent.name}.__typename"
        alias = rng.choice(["type", "kind", "t"]) if rng.random() < 0.15 else None
        if alias is not None and self._claim(st, parent, alias, "__typename", "String!", coord) is None:
            alias = None
        if alias is None and self._claim(st, parent, "__typename", "__typename", "String!", coord) is None:
            return None
        st.features["__typename"] += 1
        if parent is self.s.query_type:
            st.features["__typename on the root type"] += 1
        st.fields += 1
        return A.FieldNode(alias=A.NameNode(value=alias) if alias else None, name=A.NameNode(value="__typename"),
                           arguments=(), directives=self.directives(st, 0.05))

    def _claim(self, st, parent, resp, fname, shape, coord):
        """Gives response name `resp` one meaning wherever it may merge in
        this operation. Returns its entry (entry.args is None on first use,
        to be filled by the caller) or None if `resp` means something else."""
        mine = self.possible(parent)
        overlapping = []
        for e in st.resp[resp]:
            if e.shape != shape:
                return None
            if e.ptypes & mine:
                if e.field != fname:
                    return None
                overlapping.append(e)
        keys = {self._args_key(e.args) for e in overlapping if e.args is not None}
        if len(keys) > 1:
            return None
        args = next((e.args for e in overlapping if e.args is not None), None)
        if overlapping:
            st.features["same response name selected in several places"] += 1
        exact = next((e for e in overlapping if e.ptypes == mine), None)
        if exact is not None:
            return exact
        entry = RespEntry(mine, fname, args, shape, coord)
        st.resp[resp].append(entry)
        return entry

    @staticmethod
    def _args_key(args) -> str:
        return "|".join(print_ast(a) for a in args or ())

    def field(self, st: OpState, parent, depth: int):
        rng = st.rng
        fields = parent.fields
        names = list(fields)
        if parent is self.s.query_type:
            names = [n for n in names if n in self.roots]
        weights = []
        for n in names:
            named = get_named_type(fields[n].type)
            if is_composite_type(named):
                weights.append(0 if depth >= self.cfg.max_depth else (3 if depth <= 2 else 2 if depth <= 4 else 1))
            else:
                weights.append(1)
        if not any(weights):
            return None
        fname = rng.choices(names, weights)[0]
        fdef = fields[fname]
        named = get_named_type(fdef.type)
        alias, kind = None, None
        r = rng.random()
        others = [n for n in parent.fields if n != fname]
        if r < 0.12 and others:
            alias, kind = rng.choice(others), "alias equal to another field's name"  # e.g. `id: name`
        elif r < 0.18:
            alias, kind = fname, "alias equal to its own field name"
        elif r < 0.3:
            alias, kind = f"{fname}_{rng.randint(1, 3)}", "alias"
        shape = _type_shape(fdef.type)
        coord = f"{parent.name}.{fname}"
        entry = None
        if alias is not None:
            entry = self._claim(st, parent, alias, fname, shape, coord)
            if entry is None:
                alias = None
        if alias is None:
            entry = self._claim(st, parent, fname, fname, shape, coord)
            if entry is None:
                self.redraws += 1
                return None
        else:
            st.features[kind] += 1
        if entry.args is None:
            entry.args = self.gen_args(st, parent, fname, fdef)
        args = entry.args
        st.fields += 1
        st.coords.add(coord)
        owners = self.sg.owners.get(coord) or set()
        if st.owner_stack and owners and st.owner_stack[-1] and not (owners & st.owner_stack[-1]):
            st.features["field from another subgraph than its parent field"] += 1
        sel = None
        if is_composite_type(named):
            is_list = _type_shape(fdef.type).lstrip("!").startswith("[")
            if is_list:
                st.features["list field"] += 1
                if st.lists:
                    st.features["list field inside a list"] += 1
            if is_abstract_type(named):
                st.features["field of an abstract type"] += 1
            st.lists += int(is_list)
            st.owner_stack.append(owners)
            sels, _ = self.selection_set(st, named, depth + 1)
            st.owner_stack.pop()
            st.lists -= int(is_list)
            sel = A.SelectionSetNode(selections=tuple(sels))
        if depth >= 5:
            st.features[f"field at depth {depth}"] += 1
        return A.FieldNode(alias=A.NameNode(value=alias) if alias else None, name=A.NameNode(value=fname),
                           arguments=args, directives=self.directives(st), selection_set=sel)

    def fragment_for(self, st: OpState, parent, depth: int):
        """A fragment spread usable inside `parent` at `depth`: an existing
        fragment (reuse) or a new one."""
        rng = st.rng
        room = self.cfg.max_depth - depth + 1
        mine = self.possible(parent)
        usable = [f for f in st.frags.values()
                  if f.height <= room and self.possible(self.s.get_type(f.type_cond)) & mine]
        if usable and rng.random() < 0.5:
            f = rng.choice(usable)
            st.features["named fragment reused"] += 1
            st.fields += f.fields
        else:
            conds = self.type_conditions(parent)
            # mostly the type itself
            cond = parent if rng.random() < 0.5 else rng.choice(conds)
            st.frag_counter += 1
            name = f"F{st.frag_counter}_{cond.name}"
            before = st.fields
            sels, h = self.selection_set(st, cond, depth)
            node = A.FragmentDefinitionNode(name=A.NameNode(value=name), variable_definitions=None,
                                            type_condition=A.NamedTypeNode(name=A.NameNode(value=cond.name)),
                                            directives=(), selection_set=A.SelectionSetNode(selections=tuple(sels)))
            f = FragInfo(name, cond.name, node, h, st.fields - before)
            st.frags[name] = f
        cond_t = self.s.get_type(f.type_cond)
        self._note_condition(st, parent, cond_t, "named fragment")
        st.features[f"named fragment at depth {depth}"] += 1
        return A.FragmentSpreadNode(name=A.NameNode(value=f.name), directives=self.directives(st, 0.1)), f.height

    def _note_condition(self, st, parent, cond, what):
        if cond is None:
            st.features[f"{what} without type condition"] += 1
        elif is_interface_type(cond):
            st.features[f"{what} on an interface"] += 1
        elif is_union_type(cond):
            st.features[f"{what} on a union"] += 1
        elif is_abstract_type(parent):
            st.features[f"{what} on a concrete type inside an abstract type"] += 1
        else:
            st.features[f"{what} on the same concrete type"] += 1
        if parent is self.s.query_type:
            st.features[f"{what} on the root type"] += 1

    def inline(self, st: OpState, parent, depth: int):
        rng = st.rng
        r = rng.random()
        if r < 0.15:
            cond = None
        elif is_abstract_type(parent) and r < 0.8:
            cond = rng.choice([self.s.get_type(n) for n in sorted(self.possible(parent))])
        else:
            cond = rng.choice(self.type_conditions(parent))
        sels, h = self.selection_set(st, cond or parent, depth)
        self._note_condition(st, parent, cond, "inline fragment")
        return A.InlineFragmentNode(type_condition=A.NamedTypeNode(name=A.NameNode(value=cond.name)) if cond else None,
                                    directives=self.directives(st, 0.2),
                                    selection_set=A.SelectionSetNode(selections=tuple(sels))), h

    def selection_set(self, st: OpState, parent, depth: int):
        """Selections inside `parent` whose fields are at level `depth`
        (root fields are level 1). Returns (selections, height)."""
        rng = st.rng
        want = rng.randint(1, 4 if depth <= 2 else 3)
        if is_abstract_type(parent):
            want += 1
        sels, height = [], 0
        for _ in range(want):
            if st.fields >= self.cfg.max_fields and sels:
                break
            r = rng.random()
            node, h = None, 1
            if is_union_type(parent):
                # only __typename and fragments on a union
                if r < 0.2:
                    node = self.typename(st, parent)
                elif r < 0.75:
                    node, h = self.inline(st, parent, depth)
                else:
                    node, h = self.fragment_for(st, parent, depth)
            elif r < 0.08:
                node = self.typename(st, parent)
            elif r < 0.19 and st.fields < self.cfg.max_fields - 2:
                node, h = self.inline(st, parent, depth)
            elif r < 0.30 and st.fields < self.cfg.max_fields - 2:
                node, h = self.fragment_for(st, parent, depth)
            else:
                node = self.field(st, parent, depth)
                if node is not None:
                    h = 1 + (self._height(st, node.selection_set) if node.selection_set else 0)
            if node is not None:
                sels.append(node)
                height = max(height, h)
        if not sels:
            t = self.typename(st, parent)
            if t is None:
                t = A.FieldNode(alias=None, name=A.NameNode(value="__typename"), arguments=(), directives=())
            sels.append(t)
            height = max(height, 1)
        return sels, height

    def _height(self, st: OpState, ss) -> int:
        if ss is None:
            return 0
        h = 0
        for s in ss.selections:
            if isinstance(s, A.FieldNode):
                h = max(h, 1 + self._height(st, s.selection_set))
            elif isinstance(s, A.InlineFragmentNode):
                h = max(h, self._height(st, s.selection_set))
            elif isinstance(s, A.FragmentSpreadNode):
                h = max(h, st.frags[s.name.value].height)
        return h

    # ---- whole operations ---------------------------------------------------
    def operation(self, rng: random.Random):
        """Returns (query text, variables to send, operation name or None,
        features, coords, response-name map)."""
        st = OpState(rng)
        q = self.s.query_type
        roots = []
        n_roots = rng.choice([1, 1, 1, 2, 2, 3])
        tries = 0
        while len(roots) < n_roots and tries < 10:
            tries += 1
            r = rng.random()
            if r < 0.06:
                node, _ = self.inline(st, q, 1)
            elif r < 0.1:
                node, _ = self.fragment_for(st, q, 1)
            elif r < 0.13:
                node = self.typename(st, q)
            else:
                node = self.field(st, q, 1)
            if node is not None:
                roots.append(node)
        if not roots:
            return None
        var_defs = []
        variables = {}
        for v in st.vars.values():
            default = None
            if v.default is not MISSING:
                default = self.literal(st, v.type, v.default, ArgCtx("", "", "", v.name), allow_vars=False)
            var_defs.append(A.VariableDefinitionNode(variable=A.VariableNode(name=A.NameNode(value=v.name)),
                                                     type=parse_type(str(v.type)), default_value=default,
                                                     directives=()))
            if v.send:
                variables[v.name] = self.to_json(v.value)
        anonymous = not var_defs and rng.random() < 0.3
        op_name = None if anonymous else f"Op{rng.randint(1, 99999)}"
        op = A.OperationDefinitionNode(operation=A.OperationType.QUERY,
                                       name=A.NameNode(value=op_name) if op_name else None,
                                       variable_definitions=tuple(var_defs), directives=(),
                                       selection_set=A.SelectionSetNode(selections=tuple(roots)))
        defs = [op]
        frags = list(st.frags.values())
        rng.shuffle(frags)  # fragment definitions in any order, before or after use
        defs += [f.node for f in frags]
        send_name = op_name if (op_name and rng.random() < 0.7) else None
        if op_name and rng.random() < 0.05:
            # a second operation in the document: the name picks ours
            defs.insert(rng.randint(0, len(defs)), A.OperationDefinitionNode(
                operation=A.OperationType.QUERY, name=A.NameNode(value="Other"), variable_definitions=(),
                directives=(), selection_set=A.SelectionSetNode(selections=(
                    A.FieldNode(alias=None, name=A.NameNode(value="__typename"), arguments=(), directives=()),))))
            send_name = op_name
            st.features["two operations in the document"] += 1
        if anonymous:
            st.features["anonymous operation"] += 1
        if st.frags:
            st.features["named fragments"] += 1
        doc = A.DocumentNode(definitions=tuple(defs))
        text = print_ast(doc)
        graphs = set()
        for c in st.coords:
            gs = self.sg.owners.get(c) or set()
            if len(gs) == 1:
                graphs |= gs
        st.features[f"subgraphs owning selected fields: {len(graphs)}"] += 1
        resp_map = {k: sorted({e.coord for e in v}) for k, v in st.resp.items()}
        return text, variables, send_name, dict(st.features), sorted(st.coords), resp_map

    def generate(self, seed: str, index: int):
        """The index-th operation of a seed: regenerated until valid."""
        for attempt in range(50):
            rng = random.Random(f"{seed}:{index}:{attempt}")
            got = self.operation(rng)
            if got is None:
                self.rejected["empty operation"] += 1
                continue
            text, variables, name, features, coords, resp_map = got
            errors = validate(self.s, parse(text))
            if errors:
                self.rejected["invalid: " + re.sub(r'"[^"]*"', '"…"', errors[0].message)[:90]] += 1
                continue
            depth, size = operation_size(parse(text), name)
            if depth > self.cfg.max_depth or size > self.cfg.max_fields * 2:
                self.rejected[f"too big (depth > {self.cfg.max_depth} or over {self.cfg.max_fields * 2} fields "
                              "with fragments expanded)"] += 1
                continue
            return dict(index=index, attempt=attempt, query=text, variables=variables, operationName=name,
                        features=features, coords=coords, resp=resp_map)
        raise RuntimeError(f"could not generate a valid operation {index} in 50 attempts")


def operation_size(doc, op_name=None):
    """(depth, number of fields) of the operation, fragments expanded."""
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, A.FragmentDefinitionNode)}
    ops = [d for d in doc.definitions if isinstance(d, A.OperationDefinitionNode)]
    op = next((d for d in ops if d.name and d.name.value == op_name), ops[0])

    def walk(ss, depth):
        deepest, n = depth - 1, 0
        for s in ss.selections:
            if isinstance(s, A.FieldNode):
                n += 1
                if s.selection_set:
                    d, k = walk(s.selection_set, depth + 1)
                    deepest, n = max(deepest, d), n + k
                else:
                    deepest = max(deepest, depth)
            else:
                body = s.selection_set if isinstance(s, A.InlineFragmentNode) else frags[s.name.value].selection_set
                d, k = walk(body, depth)
                deepest, n = max(deepest, d), n + k
        return deepest, n

    return walk(op.selection_set, 1)


# --------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------


def discovery_selection(schema, t, depth, max_depth, budget, path_types):
    """A selection of every leaf (and, while depth allows, object fields
    without required arguments), with __typename, and no aliases."""
    parts = ["__typename"]
    if is_abstract_type(t):
        for pt in schema.get_possible_types(t):
            if budget[0] <= 0:
                break
            parts.append(f"... on {pt.name} {{ {discovery_selection(schema, pt, depth, max_depth, budget, path_types)} }}")
        return " ".join(parts)
    for fname, f in t.fields.items():
        if budget[0] <= 0:
            break
        required = [a for a, d in f.args.items() if is_non_null_type(d.type) and d.default_value is graphql.Undefined]
        if required:
            continue
        named = get_named_type(f.type)
        if is_leaf_type(named):
            parts.append(fname)
            budget[0] -= 1
        elif depth < max_depth and path_types.count(named.name) < 1:
            args = ""
            if "first" in f.args and get_named_type(f.args["first"].type).name == "Int":
                args = "(first: 20)"
            budget[0] -= 1
            sub = discovery_selection(schema, named, depth + 1, max_depth, budget, path_types + [named.name])
            parts.append(f"{fname}{args} {{ {sub} }}")
    return " ".join(parts)


def run_discovery(gen: Generator, client: Client, log, max_depth=4):
    schema = gen.s
    q = schema.query_type
    done = set()
    for rnd in range(3):
        for fname in list(q.fields):
            if fname in done or fname not in gen.roots:
                continue
            f = q.fields[fname]
            named = get_named_type(f.type)
            required = [a for a, d in f.args.items() if is_non_null_type(d.type) and d.default_value is graphql.Undefined]
            if required and rnd == 0:
                continue
            samples = 1 if not required else 4
            for k in range(samples):
                st = OpState(random.Random(f"discovery:{fname}:{rnd}:{k}"))
                args = []
                for aname, a in f.args.items():
                    need = aname in required or (aname == "first" and get_named_type(a.type).name == "Int")
                    if not need:
                        continue
                    if aname == "first":
                        val = 20
                    else:
                        ctx = ArgCtx(q.name, fname, named.name, aname)
                        val = gen.gen_value(st, a.type, ctx, weird=False)
                    args.append(f"{aname}: {print_ast(gen.literal(st, a.type, val, ArgCtx(q.name, fname, named.name, aname), allow_vars=False))}")
                argtxt = f"({', '.join(args)})" if args else ""
                sel = ""
                if is_composite_type(named):
                    sel = "{ " + discovery_selection(schema, named, 2, max_depth, [250], [named.name]) + " }"
                text = f"query Discovery {{ {fname}{argtxt} {sel} }}"
                if validate(schema, parse(text)):
                    continue
                status, body, _, err = client.post(json.dumps({"query": text}).encode())
                if err or status != 200:
                    continue
                try:
                    data = json.loads(body).get("data") or {}
                except ValueError:
                    continue
                if data.get(fname) is not None:
                    done.add(fname)
                if is_composite_type(named):
                    gen.values.walk(schema, named, data.get(fname))
        log(f"discovery round {rnd + 1}: {gen.values.count()} values of {len(gen.values.by_coord)} fields")


def probe_roots(gen: Generator, client: Client, tries=4):
    """Root fields that answered at least once without errors."""
    q = gen.s.query_type
    ok, bad = [], {}
    for fname in gen.roots:
        f = q.fields[fname]
        named = get_named_type(f.type)
        last = None
        good = False
        for k in range(tries):
            st = OpState(random.Random(f"probe:{fname}:{k}"))
            args = []
            for aname, a in f.args.items():
                required = is_non_null_type(a.type) and a.default_value is graphql.Undefined
                if not required:
                    continue
                ctx = ArgCtx(q.name, fname, named.name, aname)
                args.append(f"{aname}: {print_ast(gen.literal(st, a.type, gen.gen_value(st, a.type, ctx, weird=False), ctx, allow_vars=False))}")
            argtxt = f"({', '.join(args)})" if args else ""
            sel = " { __typename }" if is_composite_type(named) else ""
            text = f"{{ {fname}{argtxt}{sel} }}"
            status, body, _, err = client.post(json.dumps({"query": text}).encode())
            try:
                b = json.loads(body) if not err else {}
            except ValueError:
                b = {}
            if status == 200 and not b.get("errors") and "data" in b:
                good = True
                break
            last = (b.get("errors") or [{}])[0].get("message") or err or f"status {status}"
        if good:
            ok.append(fname)
        else:
            bad[fname] = last
    return ok, bad


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------


class Obj(list):
    """A JSON object as its (key, value) pairs, in order."""


@dataclasses.dataclass(frozen=True)
class Num:
    raw: str
    is_float: bool


def jload(text: str):
    return json.loads(text, object_pairs_hook=Obj, parse_float=lambda s: Num(s, True),
                      parse_int=lambda s: Num(s, False))


def plain(v):
    if isinstance(v, Obj):
        return {k: plain(x) for k, x in v}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, Num):
        return float(v.raw) if v.is_float else int(v.raw)
    return v


def kind_of(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, Obj):
        return "object"
    if isinstance(v, list):
        return "list"
    if isinstance(v, Num):
        return "number"
    if isinstance(v, bool):
        return "boolean"
    return "string"


def get(obj: Obj, key, default=MISSING):
    for k, v in obj:
        if k == key:
            return v
    return default


def diff_values(a, b, path, out, limit=20):
    if len(out) >= limit:
        return
    if isinstance(a, Num) and isinstance(b, Num):
        if a.raw == b.raw:
            return
        try:
            same = decimal.Decimal(a.raw) == decimal.Decimal(b.raw)
        except decimal.InvalidOperation:
            same = False
        out.append(("float formatting" if same else "value", path, a.raw, b.raw))
        return
    if isinstance(a, Num) or isinstance(b, Num):
        out.append(("value", path, kind_of(a), kind_of(b)))
        return
    if kind_of(a) != kind_of(b):
        out.append(("value", path, kind_of(a), kind_of(b)))
        return
    if isinstance(a, Obj):
        ka, kb = [k for k, _ in a], [k for k, _ in b]
        if len(set(ka)) != len(ka) or len(set(kb)) != len(kb):
            out.append(("duplicate key", path, len(ka) - len(set(ka)), len(kb) - len(set(kb))))
        only_a = [k for k in ka if k not in kb]
        only_b = [k for k in kb if k not in ka]
        for k in only_a:
            out.append(("key only in ours", path + [k], "", ""))
        for k in only_b:
            out.append(("key only in ref", path + [k], "", ""))
        common_a = [k for k in ka if k in kb]
        common_b = [k for k in kb if k in ka]
        if common_a != common_b:
            out.append(("key order", path, ",".join(common_a), ",".join(common_b)))
        db = dict(b)
        for k, v in a:
            if k in db:
                diff_values(v, db[k], path + [k], out, limit)
        return
    if isinstance(a, list):
        if len(a) != len(b):
            out.append(("list length", path, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            diff_values(x, y, path + [i], out, limit)
        return
    if a != b:
        out.append(("value", path, kind_of(a), kind_of(b)))


def path_text(path) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else p)
    return s or "(root)"


def norm_message(m) -> str:
    m = str(m)
    m = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", m)
    m = re.sub(r"\d+", "N", m)
    return m[:100]


def norm_error(e):
    if not isinstance(e, Obj):
        return (repr(plain(e)), None, None)
    msg = get(e, "message", None)
    p = get(e, "path", None)
    p = tuple(plain(p)) if isinstance(p, list) else None
    ext = get(e, "extensions", None)
    code = get(ext, "code", None) if isinstance(ext, Obj) else None
    return (msg, p, code)


@dataclasses.dataclass(frozen=True)
class Diff:
    category: str  # status, data, errors, float, transport
    kind: str  # what differs, without where
    coord: str = ""  # schema coordinate(s) of the response key where it differs
    detail: str = ""  # path and values, for the reader

    @property
    def full(self) -> str:
        return f"{self.kind} at {self.coord}" if self.coord else self.kind


PRIORITY = {"transport": 0, "status": 1, "data": 2, "errors": 3, "float": 4}


def compare(a_status, a_body, b_status, b_body, resp_map) -> list:
    """Differences between ours (a) and the reference (b), as Diffs."""
    found = []
    if a_status != b_status:
        found.append(Diff("status", f"HTTP status {a_status} vs {b_status}"))
    try:
        ja = jload(a_body)
    except ValueError:
        ja = MISSING
    try:
        jb = jload(b_body)
    except ValueError:
        jb = MISSING
    if not isinstance(ja, Obj) or not isinstance(jb, Obj):
        if not isinstance(ja, Obj) and not isinstance(jb, Obj):
            if a_body != b_body:
                found.append(Diff("transport", "body not a JSON object (both)", detail=f"{a_body[:200]} | {b_body[:200]}"))
        else:
            side = "ours" if not isinstance(ja, Obj) else "ref"
            found.append(Diff("transport", f"body not a JSON object ({side})",
                              detail=(a_body if side == "ours" else b_body)[:300]))
        return found
    # data
    da, db = get(ja, "data"), get(jb, "data")
    if (da is MISSING) != (db is MISSING):
        # name the error of the answer without data: it tells why
        side, body = ("ours", ja) if da is MISSING else ("ref", jb)
        errs = get(body, "errors", None)
        first = norm_error(errs[0])[0] if isinstance(errs, list) and errs else None
        why = f"; {side}'s error: {norm_message(first)!r}" if first is not None else ""
        found.append(Diff("data", f"data {'absent' if da is MISSING else kind_of(da)} (ours) vs "
                                  f"{'absent' if db is MISSING else kind_of(db)} (ref){why}"))
    elif da is not MISSING:
        diffs = []
        diff_values(da, db, [], diffs)
        for kind, path, x, y in diffs:
            coord = where(path, resp_map)
            pt = path_text(path)
            if kind == "float formatting":
                found.append(Diff("float", "float formatting", coord, f"{pt}: {x} vs {y}"))
            elif kind == "value" and isinstance(x, str) and re.match(r"^-?[0-9]", x):
                try:
                    fx, fy = float(x), float(y)
                    close = fx != fy and abs(fx - fy) <= 1e-12 * max(abs(fx), abs(fy))
                except ValueError:
                    close = False
                found.append(Diff("data", "number differs in its last digits (relative difference <= 1e-12)"
                                  if close else "numbers differ", coord, f"{pt}: {x} (ours) vs {y} (ref)"))
            elif kind == "value":
                if x == y:
                    found.append(Diff("data", f"{x} values differ", coord, pt))
                else:
                    found.append(Diff("data", f"{x} (ours) vs {y} (ref)", coord, pt))
            elif kind in ("list length", "key order", "duplicate key"):
                found.append(Diff("data", kind, coord, f"{pt}: {x} vs {y}"))
            else:
                found.append(Diff("data", kind, coord, pt))
    # errors
    ea, eb = get(ja, "errors", None), get(jb, "errors", None)
    ea = ea if isinstance(ea, list) else ([] if ea in (None, MISSING) else [ea])
    eb = eb if isinstance(eb, list) else ([] if eb in (None, MISSING) else [eb])
    if len(ea) != len(eb):
        if not ea or not eb:
            kind = f"errors only in {'ours' if ea else 'ref'}"
        else:
            kind = "errors: more in ours" if len(ea) > len(eb) else "errors: more in ref"
        msgs = "; ".join(f"{norm_error(e)[0]} @ {norm_error(e)[1]}" for e in (ea or eb))
        found.append(Diff("errors", kind, detail=f"{len(ea)} vs {len(eb)}: {msgs}"[:400]))
    elif ea:
        na, nb = [norm_error(e) for e in ea], [norm_error(e) for e in eb]

        def same(x, y):
            return x[0] == y[0] and x[1] == y[1] and (x[2] is None or y[2] is None or x[2] == y[2])

        if not all(same(x, y) for x, y in zip(na, nb)):
            rest = list(nb)
            for x in na:
                m = next((y for y in rest if same(x, y)), None)
                if m is not None:
                    rest.remove(m)
            if not rest:
                found.append(Diff("errors", "errors in another order"))
            else:
                for x, y in zip(na, nb):
                    if same(x, y):
                        continue
                    if x[0] != y[0]:
                        found.append(Diff("errors", f"error message {norm_message(x[0])!r} (ours) vs "
                                                    f"{norm_message(y[0])!r} (ref)", detail=f"{x[0]} | {y[0]}"))
                    if x[1] != y[1]:
                        pk = ("error path only in ref" if x[1] is None else "error path only in ours"
                              if y[1] is None else "error paths differ")
                        found.append(Diff("errors", pk, detail=f"{x[1]} (ours) vs {y[1]} (ref)"))
                    if x[2] is not None and y[2] is not None and x[2] != y[2]:
                        found.append(Diff("errors", f"error code {x[2]} (ours) vs {y[2]} (ref)"))
    return found


def where(path, resp_map) -> str:
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return "(data)"
    coords = resp_map.get(names[-1]) or [f"?.{names[-1]}"]
    return "/".join(coords[:3])


def signature(found) -> str:
    return " | ".join(sorted({f.full for f in found}))


def primary(found) -> Optional[Diff]:
    if not found:
        return None
    return min(found, key=lambda f: PRIORITY[f.category])


def outcome_of(found) -> str:
    cats = {f.category for f in found}
    if not cats:
        return "identical"
    if cats == {"float"}:
        return "minor"
    return "differs"


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


class Runner:
    def __init__(self, ours: Client, ref: Client):
        self.ours, self.ref = ours, ref
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)

    def send(self, query, variables, op_name):
        payload = {"query": query}
        if variables:
            payload["variables"] = variables
        if op_name:
            payload["operationName"] = op_name
        body = json.dumps(payload).encode()
        fa = self.pool.submit(self.ours.post, body)
        fb = self.pool.submit(self.ref.post, body)
        return fa.result(), fb.result()

    def check(self, op, retry=True):
        """Sends an operation to both. On a difference it is sent again:
        a difference that is gone, or that is at a place where one gateway's
        two answers differ from each other (a time-dependent value, errors
        in a varying order), makes the operation "flaky", not "differs"."""
        (sa, ta, tma, erra), (sb, tb, tmb, errb) = self.send(op["query"], op["variables"], op["operationName"])
        found = self._found(sa, ta, erra, sb, tb, errb, op["resp"])
        res = dict(ours=dict(status=sa, body=ta, error=erra, ms=round(tma * 1000, 1)),
                   ref=dict(status=sb, body=tb, error=errb, ms=round(tmb * 1000, 1)))
        res["found"] = found
        res["signature"] = signature(found)
        res["outcome"] = outcome_of(found)
        if res["outcome"] != "identical" and retry:
            (sa2, ta2, _, erra2), (sb2, tb2, _, errb2) = self.send(op["query"], op["variables"], op["operationName"])
            found2 = self._found(sa2, ta2, erra2, sb2, tb2, errb2, op["resp"])
            ref_self = self._found(sb, tb, errb, sb2, tb2, errb2, op["resp"], same_gateway=True)
            ours_self = self._found(sa, ta, erra, sa2, ta2, erra2, op["resp"], same_gateway=True)
            res["second_signature"] = signature(found2)
            if ref_self:
                res["ref_not_repeatable"] = signature(ref_self)
            if ours_self:
                res["ours_not_repeatable"] = signature(ours_self)
            unstable = {f.full for f in ref_self + ours_self}
            stable = [f for f in found if f.full not in unstable]
            if not found2 or not stable:
                res["outcome"] = "flaky"
            elif len(stable) != len(found):
                res["unstable_dropped"] = sorted({f.full for f in found if f.full in unstable})
                res["found"] = stable
                res["signature"] = signature(stable)
                res["outcome"] = outcome_of(stable)
        return res

    @staticmethod
    def _found(sa, ta, erra, sb, tb, errb, resp_map, same_gateway=False):
        if same_gateway and erra and errb:
            return []  # failed both times
        if erra or errb:
            if erra and errb:
                return [Diff("transport", "both gateways unreachable", detail=f"{erra} | {errb}")]
            return [Diff("transport", f"{'ours' if erra else 'ref'} unreachable", detail=erra or errb)]
        return compare(sa, ta, sb, tb, resp_map)


# --------------------------------------------------------------------------
# Minimising an operation that shows a difference
# --------------------------------------------------------------------------


def _removal_paths(node, path=()):
    """Paths (attr, index, ...) of every removable element, outermost first."""
    out = []
    for attr in ("definitions", "selections", "arguments", "directives", "fields", "values"):
        items = getattr(node, attr, None)
        if not items:
            continue
        for i, child in enumerate(items):
            out.append(path + ((attr, i),))
    for attr in ("definitions", "selections", "selection_set", "arguments", "value", "fields", "values"):
        child = getattr(node, attr, None)
        if child is None or isinstance(child, (str, bool)):
            continue
        if isinstance(child, tuple):
            for i, c in enumerate(child):
                if isinstance(c, A.Node):
                    out += _removal_paths(c, path + ((attr, i),))
        elif isinstance(child, A.Node):
            out += _removal_paths(child, path + ((attr, None),))
    return out


def _remove(doc, path):
    doc = copy.deepcopy(doc)
    node = doc
    for attr, i in path[:-1]:
        node = getattr(node, attr)
        if i is not None:
            node = node[i]
    attr, i = path[-1]
    items = list(getattr(node, attr))
    del items[i]
    setattr(node, attr, tuple(items))
    return doc


def _selection_paths(node, path=()):
    """(path, selection) of every selection, in document order."""
    out = []
    ss = getattr(node, "selection_set", None)
    if ss is not None:
        for i, s in enumerate(ss.selections):
            p = path + (("selection_set", None), ("selections", i))
            out.append((p, s))
            out += _selection_paths(s, p)
    for i, d in enumerate(getattr(node, "definitions", None) or ()):
        out += _selection_paths(d, path + (("definitions", i),))
    return out


def _replace_selection(doc, path, make):
    """A copy of doc where the selection at path is replaced by the list
    make(selection) returns."""
    doc = copy.deepcopy(doc)
    node = doc
    for attr, i in path[:-1]:
        node = getattr(node, attr)
        if i is not None:
            node = node[i]
    attr, i = path[-1]
    items = list(getattr(node, attr))
    items[i:i + 1] = make(doc, items[i])
    setattr(node, attr, tuple(items))
    return doc


def _unwrap(doc, path):
    """An inline fragment replaced by its selections."""
    return _replace_selection(doc, path, lambda d, s: list(s.selection_set.selections))


def _inline_spread(doc, path):
    """A fragment spread replaced by an inline fragment of the same body."""
    def make(d, s):
        frag = next(x for x in d.definitions
                    if isinstance(x, A.FragmentDefinitionNode) and x.name.value == s.name.value)
        return [A.InlineFragmentNode(type_condition=frag.type_condition, directives=s.directives,
                                     selection_set=copy.deepcopy(frag.selection_set))]
    return _replace_selection(doc, path, make)


def _tidy(doc, variables):
    """Drops fragments and variables no longer used."""
    while True:
        text = print_ast(doc)
        changed = False
        defs = []
        for d in doc.definitions:
            if isinstance(d, A.FragmentDefinitionNode) and not re.search(r"\.\.\.\s*" + re.escape(d.name.value) + r"\b", text):
                changed = True
                continue
            defs.append(d)
        doc = A.DocumentNode(definitions=tuple(defs))
        text = print_ast(doc)
        new_defs = []
        for d in doc.definitions:
            if isinstance(d, A.OperationDefinitionNode) and d.variable_definitions:
                body = print_ast(A.DocumentNode(definitions=tuple(
                    x if x is not d else _copy(d, variable_definitions=()) for x in doc.definitions)))
                keep = tuple(v for v in d.variable_definitions
                             if re.search(r"\$" + re.escape(v.variable.name.value) + r"\b", body))
                if len(keep) != len(d.variable_definitions):
                    changed = True
                    d = _copy(d, variable_definitions=keep)
            new_defs.append(d)
        doc = A.DocumentNode(definitions=tuple(new_defs))
        if not changed:
            break
    names = set(re.findall(r"\$(\w+)", print_ast(doc)))
    return doc, {k: v for k, v in (variables or {}).items() if k in names}


def minimise(runner: Runner, schema, op, target: str, budget=150):
    """Greedily removes parts of the operation (fields, fragments,
    arguments, directives; inline fragments are also unwrapped) while the
    answer pair still shows the difference `target` (a Diff.full)."""
    doc = parse(op["query"], no_location=True)
    variables = dict(op["variables"] or {})
    spent = 0
    best = None
    improved = True
    while improved and spent < budget:
        improved = False
        sels = _selection_paths(doc)
        cands = ([(_remove, p) for p in _removal_paths(doc)]
                 + [(_unwrap, p) for p, x in sels if isinstance(x, A.InlineFragmentNode)]
                 + [(_inline_spread, p) for p, x in sels if isinstance(x, A.FragmentSpreadNode)])
        for change, p in cands:
            if spent >= budget:
                break
            try:
                new = change(doc, p)
                new, new_vars = _tidy(new, variables)
            except Exception:
                continue
            if not any(isinstance(d, A.OperationDefinitionNode) for d in new.definitions):
                continue
            text = print_ast(new)
            try:
                if validate(schema, parse(text)):
                    continue
            except graphql.GraphQLError:
                continue
            names = [d.name.value for d in new.definitions if isinstance(d, A.OperationDefinitionNode) and d.name]
            ops = [d for d in new.definitions if isinstance(d, A.OperationDefinitionNode)]
            op_name = op["operationName"] if op["operationName"] in names else None
            if len(ops) > 1 and op_name is None:
                continue
            candidate = dict(op, query=text, variables=new_vars, operationName=op_name)
            spent += 1
            res = runner.check(candidate, retry=False)
            if any(f.full == target for f in res["found"]):
                doc, variables, best = new, new_vars, (candidate, res)
                improved = True
                break
    if best is None:
        return op, runner.check(op, retry=False), spent
    return best[0], best[1], spent


# --------------------------------------------------------------------------
# Self test (no gateway): the generator on a schema with abstract types
# --------------------------------------------------------------------------

SELF_TEST_SUPERGRAPH = """
schema @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY) { query: Query }
directive @join__type(graph: join__Graph!, key: join__FieldSet) repeatable on OBJECT | INTERFACE | UNION
directive @join__field(graph: join__Graph, external: Boolean) repeatable on FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ENUM | ENUM_VALUE | SCALAR | INPUT_OBJECT | INPUT_FIELD_DEFINITION | ARGUMENT_DEFINITION
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph { A @join__graph(name: "a", url: "http://a") B @join__graph(name: "b", url: "http://b") }
interface Node @join__type(graph: A) { id: ID! }
interface Named { name: String secret: String @inaccessible }
type Book implements Node & Named @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID! name: String secret: String @inaccessible pages: Int @join__field(graph: B) related: [Item] @join__field(graph: B) }
type Film implements Node & Named @join__type(graph: A, key: "id") {
  id: ID! name: String secret: String @inaccessible minutes: Float cast: [[Person!]] }
type Person implements Named @join__type(graph: A) { name: String secret: String @inaccessible friends(first: Int = 2): [Person] }
union Item @join__type(graph: A) = Book | Film | Person
type Hidden @inaccessible @join__type(graph: A) { x: Int }
enum Kind { BOOK FILM OLD @inaccessible }
input Filter { kind: Kind, ids: [ID!], min: Float = 1.5 }
type Query @join__type(graph: A) {
  node(id: ID!): Node items(filter: Filter, first: Int): [Item!]! named: [Named] hidden: Hidden
  search(text: String!, kind: Kind = BOOK): [Item] }
"""


def self_test(count: int, seed: str) -> int:
    sg = load_supergraph(SELF_TEST_SUPERGRAPH)
    s = sg.schema
    assert s.get_type("Hidden") is None and "hidden" not in s.query_type.fields
    assert "secret" not in s.get_type("Book").fields and "OLD" not in s.get_type("Kind").values
    assert not any(n.startswith(("join__", "link__")) for n in s.type_map)
    gen = Generator(sg, Values(), Config(), dt.datetime.now(dt.timezone.utc))
    features = collections.Counter()
    for i in range(count):
        op = gen.generate(seed, i)
        assert not validate(s, parse(op["query"]))
        for k in op["features"]:
            features[k] += 1
    print(f"self test: {count} valid operations; generator rejections: {sum(gen.rejected.values())}")
    for k, v in sorted(features.items()):
        print(f"  {v:5d}  {k}")
    needed = ["inline fragment on an interface", "inline fragment on a union",
              "named fragment on an interface", "inline fragment on a concrete type inside an abstract type"]
    missing = [n for n in needed if not features[n]]
    if missing:
        print("self test FAILED: never generated: " + ", ".join(missing))
        return 1
    return 0


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def pretty(text: str, limit: int) -> str:
    """Indented JSON if short, else the compact text (cut at limit)."""
    try:
        v = json.loads(text, object_pairs_hook=collections.OrderedDict)
        s = json.dumps(v, indent=2, ensure_ascii=False)
        if s.count("\n") > 60:
            s = json.dumps(v, ensure_ascii=False)
    except ValueError:
        s = text
    if len(s) > limit:
        s = s[:limit] + f"\n… ({len(s) - limit} more characters; full text in the JSON lines report)"
    return s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--supergraph", help="the supergraph SDL file both gateways serve")
    ap.add_argument("--ours", help="our gateway's GraphQL URL (bigmember)")
    ap.add_argument("--ref", help="the reference gateway's GraphQL URL (Hive Router)")
    ap.add_argument("--header", action="append", default=[], help="'name: value' sent on every request (repeatable)")
    ap.add_argument("--accept", default="application/json", help="Accept header [application/json]")
    ap.add_argument("--seed", default="1", help="seed of the generator [1]")
    ap.add_argument("--count", type=int, default=1000, help="operations to generate and send [1000]")
    ap.add_argument("--max-depth", type=int, default=6)
    ap.add_argument("--max-fields", type=int, default=36)
    ap.add_argument("--roots", help="comma-separated query root fields to use (default: all)")
    ap.add_argument("--exclude-roots", default="", help="comma-separated query root fields never used")
    ap.add_argument("--only-working-roots", action="store_true",
                    help="probe each root field on the reference first; use only those answering without errors")
    ap.add_argument("--no-discovery", action="store_true", help="do not ask the reference for ids and other values")
    ap.add_argument("--out", default="differential-report", help="folder for report.jsonl and summary.md")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--minimise", type=int, default=150,
                    help="request pairs spent minimising one example per kind of difference (0: off) [150]")
    ap.add_argument("--examples", type=int, default=2,
                    help="examples shown per kind of difference, for its most frequent places [2]")
    ap.add_argument("--generate-only", action="store_true", help="print the operations as JSON lines and exit")
    ap.add_argument("--replay", help="a report.jsonl: send its operations again instead of generating")
    ap.add_argument("--self-test", action="store_true",
                    help="check the generator on a built-in schema with interfaces and unions (no gateway)")
    ap.add_argument("--now", help="RFC 3339 instant for dates in generated values (default: now)")
    args = ap.parse_args(argv)

    if args.self_test:
        return self_test(args.count, args.seed)
    if not args.supergraph:
        ap.error("--supergraph is required")
    now = dt.datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else dt.datetime.now(dt.timezone.utc)

    def log(msg):
        print(f"[differential {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    sdl = open(args.supergraph, encoding="utf-8").read()
    sg = load_supergraph(sdl)
    roots = [r for r in args.roots.split(",")] if args.roots else list(sg.schema.query_type.fields)
    excluded = {r for r in args.exclude_roots.split(",") if r}
    roots = [r for r in roots if r not in excluded]
    cfg = Config(max_depth=args.max_depth, max_fields=args.max_fields, roots=roots)
    gen = Generator(sg, Values(), cfg, now)

    headers = {"content-type": "application/json", "accept": args.accept}
    for h in args.header:
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    ours = ref = None
    if args.ours and args.ref:
        ours = Client(args.ours, headers, args.timeout)
        ref = Client(args.ref, headers, args.timeout)
    elif not args.generate_only:
        ap.error("--ours and --ref are required (unless --generate-only)")

    probed_out = {}
    if ref is not None and not args.no_discovery and not args.replay:
        run_discovery(gen, ref, log)
    if ref is not None and args.only_working_roots and not args.replay:
        ok, bad = probe_roots(gen, ref)
        probed_out = bad
        for r, why in bad.items():
            log(f"root field {r} left out: {why}")
        if not ok:
            log("no root field answered without errors")
            return 2
        gen.roots = ok
        # discovery again, now that the roots are known to work
    log(f"root fields used ({len(gen.roots)}): {', '.join(gen.roots)}")

    if args.replay:
        ops = []
        with open(args.replay, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if r.get("kind") == "op":
                    ops.append(dict(index=r["index"], attempt=r.get("attempt", 0), query=r["query"],
                                    variables=r["variables"], operationName=r.get("operationName"),
                                    features=r.get("features", {}), coords=r.get("coords", []), resp=r.get("resp", {})))
        ops = ops[: args.count]
    else:
        ops = (gen.generate(args.seed, i) for i in range(args.count))

    if args.generate_only:
        for op in ops:
            print(json.dumps(op, ensure_ascii=False))
        log(f"generator rejections: {dict(gen.rejected)}")
        return 0

    os.makedirs(args.out, exist_ok=True)
    runner = Runner(ours, ref)
    report_path = os.path.join(args.out, "report.jsonl")
    totals = collections.Counter()
    cats = collections.Counter()
    features = collections.Counter()
    groups: dict[str, dict] = {}
    flaky = []
    t0 = time.monotonic()
    meta = dict(kind="meta", seed=args.seed, count=args.count, ours=args.ours, ref=args.ref,
                supergraph=os.path.abspath(args.supergraph),
                supergraph_sha256=hashlib.sha256(sdl.encode()).hexdigest(),
                headers=sorted(k for k in headers), roots=gen.roots, roots_left_out=probed_out,
                max_depth=cfg.max_depth, max_fields=cfg.max_fields, now=now.isoformat(),
                discovered_values=gen.values.count(), replay=args.replay)
    rep = open(report_path, "w", encoding="utf-8")
    rep.write(json.dumps(meta, ensure_ascii=False) + "\n")
    n = 0
    for op in ops:
        n += 1
        res = runner.check(op)
        out = res["outcome"]
        totals[out] += 1
        for k in op["features"]:
            features[k] += 1
        line = dict(kind="op", index=op["index"], attempt=op.get("attempt", 0), outcome=out,
                    signature=res["signature"], query=op["query"], variables=op["variables"],
                    operationName=op["operationName"], features=op["features"], coords=op["coords"],
                    resp=op["resp"])
        if out != "identical":
            line["differences"] = [dataclasses.asdict(f) for f in res["found"]]
            line["ours"] = res["ours"]
            line["ref"] = res["ref"]
            for k in ("second_signature", "ref_not_repeatable", "ours_not_repeatable", "unstable_dropped"):
                if k in res:
                    line[k] = res[k]
        else:
            line["status"] = res["ours"]["status"]
        rep.write(json.dumps(line, ensure_ascii=False) + "\n")
        if out in ("differs", "minor"):
            for c in sorted({f.category for f in res["found"]}):
                cats[c] += 1
            p = primary(res["found"])
            key = f"{p.category}: {p.kind}"
            g = groups.setdefault(key, dict(count=0, ops=[], outcome=out, by_where=collections.Counter(),
                                            smallest={}))
            g["count"] += 1
            g["ops"].append(op["index"])
            if out == "differs":
                g["outcome"] = "differs"
            g["by_where"][p.full] += 1
            cur = g["smallest"].get(p.full)
            if cur is None or len(op["query"]) < len(cur[0]["query"]):
                g["smallest"][p.full] = (op, res)
        elif out == "flaky":
            flaky.append((op["index"], res["signature"], res.get("ref_not_repeatable"), res.get("ours_not_repeatable")))
        if n % 100 == 0:
            log(f"{n} operations: {dict(totals)}")
    elapsed = time.monotonic() - t0

    # Up to --examples minimal examples per kind, for its most frequent places.
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
    for key, g in ordered:
        g["examples"] = []
        for target, _ in g["by_where"].most_common(args.examples):
            op, res = g["smallest"][target]
            if args.minimise > 0:
                mop, mres, spent = minimise(runner, sg.schema, op, target, budget=args.minimise)
            else:
                mop, mres, spent = op, res, 0
            g["examples"].append(dict(target=target, source=op["index"], op=mop, res=mres,
                                      minimised=mop is not op, requests=spent))
        rep.write(json.dumps(dict(
            kind="group", key=key, count=g["count"], outcome=g["outcome"], ops=g["ops"],
            places=dict(g["by_where"]),
            examples=[dict(target=e["target"], from_op=e["source"], minimised=e["minimised"],
                           query=e["op"]["query"], variables=e["op"]["variables"],
                           operationName=e["op"]["operationName"], ours=e["res"]["ours"], ref=e["res"]["ref"],
                           differences=[dataclasses.asdict(f) for f in e["res"]["found"]])
                      for e in g["examples"]]), ensure_ascii=False) + "\n")
    summary = dict(kind="summary", total=n, identical=totals["identical"], differs=totals["differs"],
                   minor=totals["minor"], flaky=totals["flaky"], categories=dict(cats),
                   kinds={k: g["count"] for k, g in ordered}, seconds=round(elapsed, 1),
                   generator_rejections=dict(gen.rejected))
    rep.write(json.dumps(summary, ensure_ascii=False) + "\n")
    rep.close()

    # Human summary
    L = []
    L.append("# Differential test: bigmember gateway (ours) vs reference (ref)\n")
    L.append(f"- ours: {args.ours}\n- ref:  {args.ref}\n- supergraph: {os.path.abspath(args.supergraph)}")
    L.append(f"- seed {args.seed!r}, {n} operations{' (replayed from ' + args.replay + ')' if args.replay else ''}, "
             f"{elapsed:.0f} s, max depth {cfg.max_depth}, about {cfg.max_fields} fields at most")
    L.append(f"- headers sent: {', '.join(sorted(headers))}")
    L.append(f"- root fields used: {', '.join(gen.roots)}")
    if probed_out:
        L.append("- root fields left out (no answer without errors on the reference): "
                 + "; ".join(f"{k} ({v})" for k, v in probed_out.items()))
    L.append(f"- values found in the data for arguments: {gen.values.count()}")
    L.append("")
    L.append("## Totals\n")
    L.append("| outcome | operations |\n|---|---|")
    L.append(f"| identical | {totals['identical']} |")
    L.append(f"| differ | {totals['differs']} |")
    L.append(f"| differ only in float formatting (minor) | {totals['minor']} |")
    L.append(f"| flaky (not the same on a second try, or where a gateway's own two answers differ) | {totals['flaky']} |")
    L.append(f"| **total** | **{n}** |")
    L.append("")
    if cats:
        L.append("Differing operations per category (one operation may be in several):\n")
        L.append("| category | operations |\n|---|---|")
        for c in ("transport", "status", "data", "errors", "float"):
            if cats[c]:
                L.append(f"| {c} | {cats[c]} |")
        L.append("")
    L.append(f"## Kinds of difference ({len(groups)})\n")
    L.append("Each operation is counted once, under its first difference (transport, then status, "
             "then data, then errors, then float formatting); all its differences are in report.jsonl.\n")
    if not groups:
        L.append("None.\n")
    else:
        L.append("| # | kind | operations |\n|---|---|---|")
        for k, (key, g) in enumerate(ordered, 1):
            L.append(f"| {k} | {key} | {g['count']} |")
        L.append("")
    for k, (key, g) in enumerate(ordered, 1):
        L.append(f"### {k}. {key}\n")
        L.append(f"{g['count']} operation(s): {', '.join(str(i) for i in g['ops'][:20])}"
                 f"{' …' if len(g['ops']) > 20 else ''}\n")
        if len(g["by_where"]) > 1:
            L.append("Where: " + "; ".join(f"{w} ({c})" for w, c in g["by_where"].most_common(8))
                     + (" …" if len(g["by_where"]) > 8 else "") + "\n")
        for e in g["examples"]:
            mop, mres = e["op"], e["res"]
            how = (f"minimised from operation {e['source']} in {e['requests']} request pairs" if e["minimised"]
                   else f"operation {e['source']}")
            L.append(f"Example for `{e['target']}` ({how}):\n")
            L.append("```graphql\n" + mop["query"].strip() + "\n```\n")
            extra = []
            if mop["variables"]:
                extra.append("variables: `" + json.dumps(mop["variables"], ensure_ascii=False) + "`")
            if mop["operationName"]:
                extra.append(f"operationName: `{mop['operationName']}`")
            if extra:
                L.append(", ".join(extra) + "\n")
            for side in ("ours", "ref"):
                r = mres[side]
                L.append(f"{side} (HTTP {r['status']}{', ' + r['error'] if r['error'] else ''}):\n")
                L.append("```json\n" + pretty(r["body"], 2500) + "\n```\n")
            seen, details = collections.Counter(), []
            for f in mres["found"]:
                seen[f.full] += 1
                if seen[f.full] == 1 and f.detail and len(details) < 8:
                    details.append(f"- {f.full}: {f.detail}")
            details = [d + (f" (and {seen[d[2:].split(': ')[0]] - 1} more places)" if seen[d[2:].split(': ')[0]] > 1 else "")
                       for d in details]
            if details:
                L += details
                L.append("")
    if flaky:
        L.append(f"## Flaky ({len(flaky)})\n")
        L.append("Differed on the first try, but not on the second, or only where one gateway's own two "
                 "answers differ from each other:\n")
        for i, s1, rr, orr in flaky[:30]:
            L.append(f"- op {i}: `{s1}`"
                     + (f"; the reference's two answers differ: `{rr}`" if rr else "")
                     + (f"; our two answers differ: `{orr}`" if orr else ""))
        L.append("")
    L.append("## What the operations exercised\n")
    L.append("| feature | operations |\n|---|---|")
    for k2, v in sorted(features.items()):
        L.append(f"| {k2} | {v} |")
    abstract = [t for t in sg.schema.type_map.values() if not t.name.startswith("__") and is_abstract_type(t)]
    if not abstract:
        L.append("\nThe API schema has no interface or union, so no operation can have a fragment on one "
                 "(`differential.py --self-test` shows the generator making them on a schema that has both).")
    L.append("")
    L.append("## Generator\n")
    L.append(f"Candidates rejected by validation and regenerated: {sum(gen.rejected.values())}; "
             f"field choices redrawn because the response name already meant another field: {gen.redraws}")
    for k2, v in gen.rejected.most_common(10):
        L.append(f"- {v} × {k2}")
    L.append("")
    summary_path = os.path.join(args.out, "summary.md")
    with open(summary_path, "w", encoding="utf-8") as f:
        f.write("\n".join(L) + "\n")
    print(f"total {n}  identical {totals['identical']}  differ {totals['differs']}  "
          f"minor (float formatting only) {totals['minor']}  flaky {totals['flaky']}")
    if cats:
        print("differing operations per category (an operation may be in several): "
              + ", ".join(f"{c} {v}" for c, v in sorted(cats.items())))
    for k, (key, g) in enumerate(ordered, 1):
        print(f"  kind {k}: {g['count']:4d} × {key}")
    print(f"report: {report_path}\nsummary: {summary_path}")
    return 0 if not groups else 1


if __name__ == "__main__":
    sys.exit(main())
