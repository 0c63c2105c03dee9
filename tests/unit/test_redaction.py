"""One redaction for every output (shared/observability.py ``scrub``), and the choke points that apply it
without I/O: SDK errors as they enter the domain, guest output as it is parsed, the status page's values and
the CLI's printing. The function tests (tests/functions/test_redaction.py) follow secrets end to end."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from shared import observability as obs
from shared.audit import status_page
from shared.azure.errors import translate
from shared.cli import output
from shared.drill.checks import MalformedReport, parse_health
from shared.errors import PermanentError, TransientError
from shared.failover.plan import parse_script_result

ROOT = Path(__file__).resolve().parents[2]
KNOWN = "Lx7Qp2Vw9Rt4Ys6Zu8Ab1Cd3Ef5Gh0Jk"  # a literal secret with no telling shape, known to the process
ACCOUNT_KEY = "AccountKey=c2VjcmV0LWFjY291bnQta2V5LWJ5dGVzLTAxMjM0NTY3ODk="
SAS = "https://st1.blob.core.windows.net/c/b?sv=2024-11-04&sr=b&sp=r&sig=Zm9vYmFyYmF6cXV4JTJCMTIz"
JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJvaWQiOiI1YjhjMmQxZSIsImFwcGlkIjoiZDNiMDczODQifQ."
       "c2lnbmF0dXJlLWJ5dGVzLXNpZ25hdHVyZQ")
LEAKS = ("c2VjcmV0LWFjY291bnQta2V5", "Zm9vYmFyYmF6cXV4", "eyJhbGciOi", KNOWN)


@pytest.fixture(autouse=True)
def known_secret() -> None:
    obs.add_secrets([KNOWN])  # as Runtime.build does with the settings declared secret


def leaked(text: str) -> list[str]:
    return [s for s in LEAKS if s in text]


def test_scrub_redacts_every_string_and_key_of_a_json_value_and_leaves_the_rest() -> None:
    value = {"reason": f"denied: {ACCOUNT_KEY}", "details": {"url": SAS, "n": 3, "ok": True, "none": None},
             "findings": [{"message": f"token {JWT}"}, ("tuple", KNOWN)], f"key {KNOWN}": 1.5}
    before = json.dumps(value, sort_keys=True, default=list)
    clean = obs.scrub(value)
    text = json.dumps(clean, sort_keys=True, default=list)
    assert leaked(text) == []
    assert clean["reason"] == "denied: AccountKey=***"
    assert clean["details"] == {"url": SAS.split("sig=")[0] + "sig=***", "n": 3, "ok": True, "none": None}
    assert clean["findings"] == [{"message": "token ***"}, ("tuple", "***")] and clean["key ***"] == 1.5
    assert json.dumps(value, sort_keys=True, default=list) == before, "the input was changed in place"
    assert obs.scrub(f"plain {KNOWN}") == "plain ***" and obs.scrub(42) == 42
    assert obs.scrub("nothing secret, 10.20.1.10 s2dclu01") == "nothing secret, 10.20.1.10 s2dclu01"


def test_scrub_takes_explicit_secrets_instead_of_the_process_ones() -> None:
    assert obs.scrub(f"a {KNOWN} b", []) == f"a {KNOWN} b"
    assert obs.scrub("a 0123456789abcdef b", ["0123456789abcdef"]) == "a *** b"


@pytest.mark.parametrize("secret", [ACCOUNT_KEY, SAS, JWT, KNOWN])
def test_an_arm_error_enters_the_domain_scrubbed_and_cut_only_after(secret: str) -> None:
    err = HttpResponseError(message=f"The request was denied: {secret} was refused by the policy")
    assert isinstance(translate(err, "enable replication of s2d-node1"), TransientError)  # no status: transient
    text = str(translate(err, "enable replication of s2d-node1"))
    assert leaked(text) == [] and "The request was denied:" in text and "refused by the policy" in text
    # A secret across the 500-character cut: scrubbed whole before the message is cut, never half left.
    long = HttpResponseError(message="x" * 480 + " " + secret)
    assert leaked(str(translate(long, "read"))) == []
    other = ValueError("y" * 290 + " " + secret)
    assert leaked(str(translate(other, "read"))) == []
    assert "connection failed" in str(translate(ServiceRequestError(f"to {SAS}"), "read"))


def test_a_permanent_arm_error_keeps_its_code_and_loses_its_secret() -> None:
    err = HttpResponseError(message=f"bad {ACCOUNT_KEY}")
    err.status_code = 400
    result = translate(err, "create the load balancer")
    assert isinstance(result, PermanentError) and leaked(str(result)) == []
    assert str(result) == "create the load balancer: 400: bad AccountKey=***"


def test_guest_output_is_scrubbed_before_it_is_parsed_or_quoted() -> None:
    result = parse_script_result("WARNING: noise\n" + json.dumps({"status": "failed", "reason": f"{ACCOUNT_KEY} {JWT}"}))
    assert result == {"status": "failed", "reason": "AccountKey=*** ***"}
    bad = parse_script_result(f"not json {KNOWN}")
    assert bad["status"] == "failed" and leaked(json.dumps(bad)) == [] and "not json ***" in bad["reason"]
    report = parse_health(json.dumps({"cluster": "s2dclu01", "errors": [f"quorum: {SAS}"]}))
    assert leaked(json.dumps(report.errors)) == [] and report.cluster == "s2dclu01"
    with pytest.raises(MalformedReport) as refused:
        parse_health(f"garbage {JWT}")
    assert leaked(str(refused.value)) == []


def test_the_status_page_scrubs_every_value_it_shows() -> None:
    assert status_page.e(f"<b>{ACCOUNT_KEY} </b>") == "&lt;b&gt;AccountKey=*** &lt;/b&gt;"
    page = status_page.render({"schema_version": 1, "finished": "2026-01-01T00:00:00Z", "summary": {},
                               "clusters": [{"name": "s2dclu01", "key": "k", "status": "red", "status_text": SAS,
                                             "findings": [{"severity": "critical", "subject": "s2dclu01",
                                                           "message": f"denied {JWT}", "fix": KNOWN}]}],
                               "errors": [ACCOUNT_KEY]})
    assert leaked(page) == [] and "denied ***" in page


def test_the_cli_prints_only_through_say_which_scrubs_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    output.say(f"reason: {ACCOUNT_KEY}")
    output.say({"reason": f"denied {JWT}", "n": 1}, indent=1, sort_keys=True)
    output.say(f"asr-s2d: {KNOWN}", err=True)
    output.progress(f"reading {SAS}")
    out, err = capsys.readouterr()
    assert leaked(out + err) == []
    assert out.startswith("reason: AccountKey=***\n") and json.loads(out.split("\n", 1)[1]) == {
        "n": 1, "reason": "denied ***"}
    assert err.splitlines()[0] == "asr-s2d: ***"
    # A table cuts long cells at 80 characters: scrubbed before the cut, so no half secret survives it.
    cut = output.table([{"detail": "z" * 70 + " " + KNOWN}], ["detail"])
    assert leaked(cut) == [] and KNOWN[:8] not in cut


def test_no_cli_module_prints_but_through_say() -> None:
    prints = []
    for path in sorted((ROOT / "shared" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text())
        say = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "say"), None)
        allowed = {id(n) for n in ast.walk(say)} if say is not None and path.name == "output.py" else set()
        prints += [f"{path.name}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Call)
                   and isinstance(n.func, ast.Name) and n.func.id == "print" and id(n) not in allowed]
        prints += [f"{path.name}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                   and n.attr == "write" and isinstance(n.value, ast.Attribute) and n.value.attr in ("stdout", "stderr")]
    assert prints == [], "print through shared.cli.output.say (it scrubs)"
