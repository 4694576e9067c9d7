"""gunicorn's request corpus and uvicorn's test_http requests, sent to the final reference.

The requests are data, in tests/corpora (their source, commit and licence are beside them);
tests/corpora/expectations.toml says what each must get, from RFC 9110 and 9112. The server
runs tests/conformance_app.py, which echoes what its handler saw: a request the RFC calls
valid must reach it as sent, and one it calls invalid must be refused, with nothing served
after it on that connection. After every case a new connection must still get 200.

All cases are sent at once, each on its own connection, when the first test asks for them;
each test then judges one. A case the reference does not meet (a limit of llhttp, kept on
purpose: lesson 09's limits table) is xfail(strict=True), with the reason in the
expectations.
"""

import asyncio

import pytest

from tests.conformance import (
    case_ids,
    check,
    data_files,
    load_cases,
    load_expectations,
    run_all,
    serve_echo_app,
)

pytestmark = pytest.mark.timeout(30)

CASES = load_cases()


@pytest.fixture(scope="module")
def server():
    yield from serve_echo_app()


@pytest.fixture(scope="module")
def outcomes(server):
    return asyncio.run(run_all(server, CASES))


@pytest.mark.parametrize("case", [case.param() for case in CASES])
def test_each_corpus_request_gets_the_answer_the_rfcs_give(case, outcomes):
    check(case, outcomes[case.id])


def test_every_corpus_file_is_expected_or_excluded_with_a_reason():
    expectations = load_expectations()
    expected = {case_id for case_id, _ in case_ids(expectations)}
    excluded = set(expectations["excluded"])
    files = set(data_files())
    assert not expected & excluded, f"both expected and excluded: {sorted(expected & excluded)}"
    assert files == expected | excluded, (
        f"files with no expectation: {sorted(files - expected - excluded)}; "
        f"expectations with no file: {sorted((expected | excluded) - files)}"
    )
    assert all(reason.strip() for reason in expectations["excluded"].values())
