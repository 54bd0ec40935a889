"""The SS 12000 client against the local SS 12000 API over real HTTP on 127.0.0.1: signing
in (client credentials, a token fetched again when it expires, a bearer token, a TLS
client certificate), paging, a delta, and every way a read fails as a whole."""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ivr.roster.records import SourceRoster
from ivr.roster.ss12000_client import (
    SchoolSystemConnection,
    SchoolSystemError,
    read_school_system,
)
from ivr.settings import Settings
from tests.ss12000.fixture import (
    CREATED,
    TODAY,
    SchoolData,
    build_school,
    display_name,
    fictional_phone,
)
from tests.ss12000.server import (
    CLIENT_ID,
    CLIENT_SECRET,
    LocalSchoolSystem,
    RunningSchoolSystem,
    ServerTls,
    serve_school_system,
)

CHANGED = CREATED + timedelta(days=200)


@pytest.fixture
def school() -> Iterator[RunningSchoolSystem]:
    """45 pupils at three school units in classes of 8, two guardians each."""
    data = build_school(pupils=45, school_units=3, class_size=8, protected_every=7)
    with serve_school_system(LocalSchoolSystem(data)) as running:
        yield running


def read(
    connection: SchoolSystemConnection,
    modified_after: datetime | None = None,
    country: str = "SE",
) -> SourceRoster:
    return asyncio.run(
        read_school_system(connection, country=country, today=TODAY, modified_after=modified_after)
    )


def failure(connection: SchoolSystemConnection) -> str:
    with pytest.raises(SchoolSystemError) as raised:
        read(connection)
    return str(raised.value)


def guardians(data: SchoolData, pupil_id: str) -> list[tuple[str, str]]:
    return [
        (display_name(data.persons[key]), data.persons[key]["emails"][0]["value"])
        for key in data.guardians_of(pupil_id)
    ]


def test_client_credentials_read_the_whole_organisation(school: RunningSchoolSystem) -> None:
    data, api = school.api.data, school.api

    roster = read(school.connection())

    assert roster.full and roster.left == frozenset() and roster.problems == []
    assert sorted(roster.schools.values()) == ["Björkskolan", "Ekskolan", "Solskolan"]
    assert [pupil.pupil_id for pupil in roster.pupils] == data.pupil_ids
    for pupil in roster.pupils:
        person = data.persons[pupil.pupil_id]
        assert pupil.personal_number.digits == person["civicNo"]["value"]
        assert pupil.school == person["enrolments"][0]["enroledAt"]["displayName"]
        assert pupil.group == data.groups[data.class_of(pupil.pupil_id)]["displayName"]
        assert pupil.protected is (person["securityMarking"] != "Ingen")
        assert [(g.name, g.email) for g in pupil.guardians] == guardians(data, pupil.pupil_id)
        assert all(g.phone and g.phone.startswith("+4670174") for g in pupil.guardians)
    assert sum(pupil.protected for pupil in roster.pupils) == 6
    assert len(roster.mentors) == len(data.groups) == 6
    assert {(m.school, m.group) for m in roster.mentors} == {
        (group["organisation"]["displayName"], group["displayName"])
        for group in data.groups.values()
    }
    assert api.tokens_issued == 1 and api.token_auth_methods == ["client_secret_basic"]


def test_a_small_page_size_reads_every_page_each_entity_once(
    school: RunningSchoolSystem,
) -> None:
    api = school.api

    roster = read(school.connection(page_size=7))

    assert len(roster.pupils) == 45
    pupils_and_guardians = [key for key in api.data.persons if not key.startswith("00000006")]
    served = set(pupils_and_guardians) | set(api.data.duties) | set(roster.schools)
    assert set(api.served) == served
    assert set(api.served.values()) == {1}, "nothing read twice"
    lists = [query for method, _, query in api.requests if method == "GET"]
    pages = {"school units": 1, "duties": 1, "pupils": math.ceil(45 / 7), "guardians": 13}
    assert len(lists) == sum(pages.values()) == api.data_requests
    assert all(("limit", "7") in query for query in lists)
    followed = [query for query in lists if any(name == "pageToken" for name, _ in query)]
    assert len(followed) == sum(pages.values()) - len(pages)
    assert all({name for name, _ in query} == {"pageToken", "limit"} for query in followed)


def test_a_token_that_expires_is_fetched_again(school: RunningSchoolSystem) -> None:
    api = school.api
    # The client fetches a new token a minute before the old one expires: this one
    # lasts it a second, while each page takes a quarter.
    api.token_lifetime = 61
    api.delay_seconds = 0.25

    roster = read(school.connection(page_size=20))

    assert len(roster.pupils) == 45 and roster.problems == []
    assert 2 <= api.tokens_issued <= api.data_requests + 1


def test_the_token_endpoint_takes_the_client_in_the_form_too(school: RunningSchoolSystem) -> None:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID}

    issued = httpx.post(school.token_url, data={**form, "client_secret": CLIENT_SECRET})
    wrong = httpx.post(school.token_url, data={**form, "client_secret": "guess"})
    grant = httpx.post(school.token_url, data={"grant_type": "password"}, auth=(CLIENT_ID, "x"))
    used = httpx.get(
        f"{school.url}/organisations",
        headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
    )

    assert issued.status_code == 200 and issued.json()["token_type"] == "Bearer"
    assert issued.json()["expires_in"] == 3600
    assert school.api.token_auth_methods == ["client_secret_post"]
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})
    assert (grant.status_code, grant.json()) == (400, {"error": "unsupported_grant_type"})
    assert used.status_code == 200 and len(used.json()["data"]) == 4
    assert httpx.get(f"{school.url}/organisations").status_code == 401


def test_a_bearer_token_is_sent_as_it_is(school: RunningSchoolSystem) -> None:
    roster = read(school.connection(bearer=True))

    assert len(roster.pupils) == 45
    assert school.api.tokens_issued == 0


def test_a_delta_reads_what_changed_since_and_who_left(school: RunningSchoolSystem) -> None:
    api, data = school.api, school.api.data
    pupils = data.pupil_ids
    ended, moved, rephoned, deleted = pupils[0], pupils[20], pupils[40], pupils[44]
    from_class, to_class = data.class_of(moved), data.class_of(pupils[30])
    new_phone = fictional_phone(999)
    data.end_enrolment(ended, TODAY - timedelta(days=1), CHANGED)
    data.move(moved, to_class, TODAY, CHANGED)
    data.set_phone(data.guardians_of(rephoned)[1], new_phone, CHANGED)
    data.delete_person(deleted, CHANGED)
    since = CHANGED - timedelta(minutes=15)

    roster = read(school.connection(), modified_after=since)

    assert not roster.full and roster.problems == []
    assert roster.left == {ended, deleted}
    records = {pupil.pupil_id: pupil for pupil in roster.pupils}
    members = [
        item["person"]["id"]
        for group in (from_class, to_class)
        for item in data.groups[group]["groupMemberships"]
    ]
    # The members of both classes (the one who moved among them), the pupil whose
    # guardian changed; not the one who left nor the one deleted.
    assert set(records) == {rephoned, *members} and len(records) == 8 + 8 + 1
    assert records[moved].group == data.groups[to_class]["displayName"]
    assert new_phone in [guardian.phone for guardian in records[rephoned].guardians]
    assert all(len(record.guardians) == 2 for record in records.values())
    assert len(roster.mentors) == len(data.groups)
    assert sum(api.served.values()) < 45 + 90, "not the whole organisation again"
    paths = [(method, path) for method, path, _ in api.requests]
    assert ("GET", "/deletedEntities") in paths and ("POST", "/persons/lookup") in paths
    queries = [dict(query) for _, path, query in api.requests if path == "/groups"]
    assert queries == [
        {"groupType": "Klass", "meta.modified.after": since.isoformat(), "limit": "1000"}
    ]


def test_a_delta_with_nothing_changed_returns_nothing(school: RunningSchoolSystem) -> None:
    roster = read(school.connection(), modified_after=datetime(2026, 1, 1, 8, 0))

    assert (roster.full, roster.pupils, roster.problems) == (False, [], [])
    assert roster.left == frozenset()
    assert len(roster.mentors) == 6, "the mentors are always read whole"


def test_a_person_that_cannot_be_read_is_reported_by_id_and_the_rest_are_read(
    school: RunningSchoolSystem,
) -> None:
    broken = school.api.data.pupil_ids[9]
    school.api.malformed_person = broken

    roster = read(school.connection(page_size=10))

    assert len(roster.pupils) == 44 and broken not in [p.pupil_id for p in roster.pupils]
    assert [(problem.entity, problem.id) for problem in roster.problems] == [("person", broken)]
    assert school.api.data.persons[broken]["civicNo"]["value"] not in str(roster.problems[0])


def test_refused_credentials_name_the_settings(school: RunningSchoolSystem) -> None:
    school.api.refuse_tokens = True

    message = failure(school.connection())

    assert "refused the credentials (HTTP 401 from GET /organisations page 1)" in message
    assert "IVR_SS12000_CLIENT_ID/SECRET" in message and "IVR_SS12000_BEARER_TOKEN" in message


def test_a_wrong_client_secret_is_refused_at_the_token_endpoint(
    school: RunningSchoolSystem,
) -> None:
    message = failure(school.connection(client_secret="not-the-secret"))

    assert "refused the credentials (the token endpoint answered invalid_client)" in message
    assert school.api.data_requests == 0


def test_a_server_error_fails_the_read(school: RunningSchoolSystem) -> None:
    school.api.fail_status = 500

    message = failure(school.connection())

    assert "HTTP 500 from GET /organisations page 1" in message and "try again later" in message


def test_a_page_that_never_comes_fails_the_read_halfway(school: RunningSchoolSystem) -> None:
    school.api.hang_on_request = 5  # the third page of pupils
    started = time.monotonic()

    message = failure(school.connection(page_size=10, timeout_seconds=0.5))

    assert "did not answer GET /persons page 3 within 0.5 s" in message
    assert "IVR_SS12000_TIMEOUT_SECONDS" in message
    assert time.monotonic() - started < 10
    assert school.api.data_requests == 5, "nothing asked after the page that failed"


def test_a_page_that_is_not_json_fails_the_read(school: RunningSchoolSystem) -> None:
    school.api.not_json = True

    message = failure(school.connection())

    assert "is not the standard's JSON (not JSON)" in message


def test_the_wrong_address_names_the_setting(school: RunningSchoolSystem) -> None:
    message = failure(school.connection(url=f"{school.url}/ss12000/v2"))

    assert "HTTP 404 from GET /organisations page 1" in message and "IVR_SS12000_URL" in message


def test_an_api_nobody_answers_at_is_unreachable(school: RunningSchoolSystem) -> None:
    with serve_school_system(LocalSchoolSystem(SchoolData("SE"))) as gone:
        url = gone.url

    message = failure(school.connection(url=url, bearer=True, timeout_seconds=2))

    assert message.startswith("cannot reach the SS 12000 API (GET /organisations page 1: ")
    assert "IVR_SS12000_URL" in message


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"url": ""}, "set IVR_SS12000_URL"),
        ({"client_id": "", "bearer_token": ""}, "no way to sign in"),
        ({"client_secret": ""}, "IVR_SS12000_CLIENT_SECRET"),
        ({"client_key": Path("key.pem")}, "IVR_SS12000_CLIENT_KEY needs IVR_SS12000_CLIENT_CERT"),
        ({"client_cert": Path("/nonexistent.pem")}, "cannot read the TLS client certificate"),
        ({"ca_file": Path("/nonexistent.pem")}, "check IVR_SS12000_CA_FILE"),
    ],
)
def test_a_connection_that_cannot_work_is_refused_before_anything_is_sent(
    school: RunningSchoolSystem, fields: dict[str, Any], missing: str
) -> None:
    message = failure(school.connection(**fields))

    assert missing in message
    assert school.api.data_requests == 0 and school.api.tokens_issued == 0


def test_the_connection_comes_from_the_settings() -> None:
    settings = Settings(
        _env_file=None,
        ss12000_url="https://sis.example.org/ss12000/v2",
        ss12000_token_url="https://sis.example.org/oauth2/token",
        ss12000_client_id="absence-line",
        ss12000_client_secret="s3cret",
        ss12000_scope="ss12000:read",
        ss12000_client_cert=Path("/etc/ivr/client.pem"),
        ss12000_timeout_seconds=12.5,
        ss12000_page_size=250,
        ss12000_guardian_relations="Vårdnadshavare, Annan ansvarig",
    )

    connection = SchoolSystemConnection.from_settings(settings)
    elsewhere = SchoolSystemConnection.from_settings(settings, url="https://other.example.org")

    assert connection == SchoolSystemConnection(
        url="https://sis.example.org/ss12000/v2",
        token_url="https://sis.example.org/oauth2/token",
        client_id="absence-line",
        client_secret="s3cret",
        scope="ss12000:read",
        client_cert=Path("/etc/ivr/client.pem"),
        timeout_seconds=12.5,
        page_size=250,
        guardian_relations=("Vårdnadshavare", "Annan ansvarig"),
    )
    assert elsewhere.url == "https://other.example.org"
    assert "s3cret" not in repr(connection)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA, the API's certificate for 127.0.0.1 and the line's client certificate."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Local SS 12000 test CA")])
    ca = _certificate(ca_name, ca_name, ca_key, ca_key, ca=True)
    files = {"ca": _write(folder / "ca.pem", ca)}
    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"local {role}")])
        certificate = _certificate(name, ca_name, key, ca_key, usage=usage)
        files[role] = _write(folder / f"{role}.pem", certificate)
        files[f"{role}_key"] = str(folder / f"{role}.key")
        Path(files[f"{role}_key"]).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return files


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    # TLS checks these against the machine's real clock, whatever clock a test has set,
    # so they hold for any day a test may run on.
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2099, 12, 31, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _write(path: Path, certificate: x509.Certificate) -> str:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(path)


def test_a_tls_client_certificate_and_a_ca_file(certificates: dict[str, str]) -> None:
    tls = ServerTls(certificates["server"], certificates["server_key"], certificates["ca"])
    data = build_school(pupils=12, school_units=1)
    with serve_school_system(LocalSchoolSystem(data), tls) as running:
        assert running.url.startswith("https://127.0.0.1:")
        trusted: dict[str, Any] = {"ca_file": Path(certificates["ca"])}
        certificate: dict[str, Any] = {
            "client_cert": Path(certificates["client"]),
            "client_key": Path(certificates["client_key"]),
        }

        roster = read(running.connection(**trusted, **certificate))
        without_certificate = failure(running.connection(**trusted))
        untrusted = failure(running.connection(**certificate))

    assert len(roster.pupils) == 12
    assert without_certificate.startswith("cannot reach the SS 12000 API (")
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted and "IVR_SS12000_CA_FILE" in untrusted
