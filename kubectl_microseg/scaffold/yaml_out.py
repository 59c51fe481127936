"""Provides the YAML writer of scaffolded policies: ruamel.yaml round-trip mode, with comments.

Every draft becomes a ``CommentedMap`` in the API's key order: a header comment above the document,
end-of-line comments on ``podSelector`` and ``policyTypes``, and the ``why`` of every rule as a
comment above its list item. One policy per document (``---``), kubectl-like indentation.

The YAML 1.1 trap: ruamel writes YAML 1.2, where ``yes``, ``on``, ``y`` or ``off`` are plain strings, so
it leaves them unquoted; Kubernetes reads manifests as YAML 1.1 (sigs.k8s.io/yaml on go-yaml v2), where
they are booleans, and the API server rejects a label value that is not a string (kubernetes#34146).
Every string scalar (keys and values) that a YAML 1.1 *or* 1.2 resolver would not read as a string is
therefore single-quoted here, and ``new_yaml`` keeps those quotes on a round trip (``preserve_quotes``).
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from .draft import PolicyDraft

_STR = "tag:yaml.org,2002:str"
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*)$")
"""What go-yaml v2 reads as an int (strconv.ParseInt with base 0: 0X1F, 0B101, 0O17, 1_000 too)."""
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))


def needs_quotes(text: str) -> bool:
    """True when a YAML 1.1 or 1.2 reader would not read the plain scalar ``text`` as a string.

    >>> [needs_quotes(v) for v in ("yes", "on", "y", "No", "null", "012", "1_000", "0X1F", "web", "1.2.3")]
    [True, True, True, True, True, True, True, True, False, False]
    """
    return bool(_GO_INT.match(text)) or any(r.resolve(ScalarNode, text, (True, False)) != _STR for r in _RESOLVERS)


def _scalar(value: Any) -> Any:
    if isinstance(value, str) and needs_quotes(value):
        return SingleQuotedScalarString(value)
    return value


def _convert(value: Any) -> Any:
    """Plain dicts/lists -> Commented containers, quoting ambiguous strings (keys and values)."""
    if isinstance(value, dict):
        m = CommentedMap()
        for k, v in value.items():
            m[_scalar(k)] = _convert(v)
        return m
    if isinstance(value, list):
        s = CommentedSeq(_convert(v) for v in value)
        if not value:
            s.fa.set_flow_style()
        return s
    return _scalar(value)


def _comment(text: str) -> str:
    """Comment text with no line that would break the YAML (ruamel prefixes each line with '# ')."""
    return "\n".join(line.rstrip() for line in text.replace("\r", "").split("\n"))


def to_commented(draft: PolicyDraft, extra_header: tuple[str, ...] = ()) -> CommentedMap:
    """The draft as a CommentedMap with its header, selector, types and rule comments."""
    doc: CommentedMap = _convert(draft.manifest())
    header = list(draft.header) + list(extra_header)
    if header:
        doc.yaml_set_start_comment(_comment("\n".join(header)))
    spec = doc["spec"]
    selector = "podSelector" if "podSelector" in spec else "selector"  # Istio objects: selector
    if draft.selector_note and selector in spec:
        spec.yaml_add_eol_comment(_comment(draft.selector_note), selector)
    if draft.types_note and "policyTypes" in spec:
        spec.yaml_add_eol_comment(_comment(draft.types_note), "policyTypes")
    for direction in ("ingress", "egress", "rules"):  # rules: an AuthorizationPolicy's (scaffold.mesh)
        if direction not in spec:
            continue
        seq = spec[direction]
        for i, rule in enumerate(draft.rules(direction)):
            seq.yaml_set_comment_before_after_key(i, before=_comment(rule.why), indent=4)
    return doc


def new_yaml() -> YAML:
    """A round-trip YAML instance with kubectl-like layout (lists indented under their key)."""
    y = YAML()  # typ='rt': round trip keeps comments, key order and flow style
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096  # never fold long comments or values
    y.explicit_start = True
    # Keep the quotes of quoted scalars when a file is loaded and dumped again: without this, a round
    # trip turns 'on' back into a plain on, which YAML 1.1 readers (Kubernetes) take for a boolean.
    y.preserve_quotes = True
    return y


def dump(drafts: list[PolicyDraft], extra_header: tuple[str, ...] = ()) -> str:
    """Drafts as one multi-document YAML text (one policy per document, in the given order)."""
    if not drafts:
        return ""
    buf = io.StringIO()
    new_yaml().dump_all([to_commented(d, extra_header) for d in drafts], buf)
    return buf.getvalue()


def roundtrip(text: str) -> str:
    """Load and dump again in round-trip mode (tests use it to prove nothing is lost)."""
    y = new_yaml()
    buf = io.StringIO()
    y.dump_all(list(y.load_all(text)), buf)
    return buf.getvalue()
