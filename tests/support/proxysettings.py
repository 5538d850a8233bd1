"""ProxySettings built by hand for tests, from the flat names a reader thinks in: the inputs (`connector=`,
`wininet=`, `explicit_none=`...) go to ProxyInputs, `pac_*`, `wpad_*` and `winhttp_*` to their script outcomes."""

from __future__ import annotations

import dataclasses
from typing import Any

from preflight.proxy import ProxyInputs, ProxySettings, ScriptOutcome

INPUTS = {field.name for field in dataclasses.fields(ProxyInputs)}
OUTCOMES = {
    "pac": {"pac_origin": "origin", "pac_decisions": "decisions", "pac_failure": "failure", "pac_evidence": "evidence"},
    "wpad": {"wpad_decisions": "decisions", "wpad_evidence": "evidence"},
    "winhttp_api": {"winhttp_answers": "decisions", "winhttp_api_evidence": "evidence"},
}


def proxy_settings(**fields: Any) -> ProxySettings:
    inputs = {name: value for name, value in fields.items() if name in INPUTS}
    outcomes: dict[str, ScriptOutcome] = {}
    for script, names in OUTCOMES.items():
        given = {field: fields[name] for name, field in names.items() if name in fields}
        if given:
            outcomes[script] = ScriptOutcome(**given)
    unknown = set(fields) - INPUTS - {name for names in OUTCOMES.values() for name in names}
    if unknown:
        raise TypeError(f"proxy_settings: no such setting {sorted(unknown)}")
    return ProxySettings(ProxyInputs(**inputs), **outcomes)


def with_inputs(settings: ProxySettings, **fields: Any) -> ProxySettings:
    """The same script outcomes over inputs with `fields` changed."""
    return dataclasses.replace(settings, inputs=dataclasses.replace(settings.inputs, **fields))
