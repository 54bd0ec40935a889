"""Every SMTP failure the outbox records names what failed and what to change; only a
recipient's own address fails a message for good."""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest

from ivr.notify.smtp import smtp_failure

SERVER = "the SMTP server mail.example.org:587"


@pytest.mark.parametrize(
    ("error", "permanent", "says"),
    [
        (
            aiosmtplib.SMTPException("SMTP STARTTLS extension not supported by server."),
            False,
            f"{SERVER} does not offer STARTTLS; set IVR_SMTP_STARTTLS=false",
        ),
        (
            aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Authentication credentials invalid"),
            False,
            f"{SERVER} refused the login (535 5.7.8 Authentication credentials invalid): "
            "check IVR_SMTP_USERNAME and IVR_SMTP_PASSWORD",
        ),
        (
            aiosmtplib.SMTPSenderRefused(530, "5.7.0 Authentication required", "line@x.org"),
            False,
            "wants a login before it takes mail (530 5.7.0 Authentication required): set "
            "IVR_SMTP_USERNAME",
        ),
        (
            aiosmtplib.SMTPSenderRefused(553, "5.7.1 not owned by user", "line@x.org"),
            False,
            "refused the sender line@x.org (553 5.7.1 not owned by user): set IVR_SMTP_FROM",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "5.1.1 no such user", "a@x.org")]
            ),
            True,
            "SMTP 550 for the recipient: 5.1.1 no such user",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(452, "4.2.2 mailbox full", "a@x.org")]
            ),
            False,
            "SMTP 452 for the recipient: 4.2.2 mailbox full",
        ),
        (
            aiosmtplib.SMTPDataError(451, "4.3.0 try later"),
            False,
            f"SMTP 451 from {SERVER}: 4.3.0 try later",
        ),
        (
            aiosmtplib.SMTPDataError(554, "5.7.1 message refused"),
            True,
            f"SMTP 554 from {SERVER}: 5.7.1 message refused",
        ),
        (
            aiosmtplib.SMTPConnectResponseError(554, "5.3.2 not accepting mail now"),
            False,
            f"SMTP 554 from {SERVER}: 5.3.2 not accepting mail now",
        ),
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
            False,
            f"TLS with {SERVER} failed",
        ),
        (
            aiosmtplib.SMTPConnectError("Error connecting to mail.example.org on port 587"),
            False,
            f"SMTP unreachable: could not connect to {SERVER}: Error connecting",
        ),
        (
            aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
            False,
            f"{SERVER} did not answer in time",
        ),
    ],
)
def test_the_reason_names_the_cause_and_the_setting(
    error: BaseException, permanent: bool, says: str
) -> None:
    failure = smtp_failure(error, "mail.example.org", 587)
    assert failure.permanent is permanent
    assert says in failure.reason
    assert failure.reason != "SMTP: SMTPException"
