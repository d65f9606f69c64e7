"""Stakeholder notifications: which events tell whom, what the message says, and real deliveries to local servers.

The SMTP server (aiosmtpd) and the HTTP receiver run in this process on 127.0.0.1 and stop with each test.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.system import Secret
from prefect.testing.utilities import prefect_test_harness

from flows.secrets import PrefectSecrets
from itpm.log.events import (
    ApprovalRequested,
    BatchStarted,
    Event,
    NoteAdded,
    NoticeSent,
    PhaseChanged,
    RunFinished,
    RunHalted,
)
from itpm.models.project import Notice, Project, Stakeholder
from itpm.notify import Briefing, ChannelKind, Delivery, Destination, EnvironmentSecrets, compose, notice_for, notify
from itpm.notify.address import ChannelAddress, parse_channel
from itpm.notify.channels.base import Channel
from itpm.notify.channels.webhook import WebhookChannel
from itpm.notify.dispatch import default_channels
from itpm.notify.message import Message
from itpm.notify.secret_source import SecretSource, block_name, env_var_name, valid_secret_name
from tests.receivers import Posted, free_port, http_receiver, received_mail, smtp_server

RUN = "baseline-rollout-20261127-1400"
AT = datetime(2026, 11, 27, 14, 0, 5, 123456, tzinfo=UTC)
TITLE = "Baseline hardening of the lab fleet"
UI = "http://127.0.0.1:4200/runs/flow-run/5d1c2f0e"
GOOD_LOGIN = ("itpm-mailer", "correct horse battery staple")
BRIEFING = Briefing(
    progress="12 of 20 host-steps verified (60%)",
    schedule="projected finish 2026-11-27 14:00 UTC, on time for milestone 'Fleet compliant' due 2026-11-27",
    budget="EUR 1,240 of 4,000 spent (31%); forecast at completion EUR 3,100",
    links=[UI, f"itpm status {RUN}"],
)


def make_project(*stakeholders: dict[str, Any], team: list[dict[str, Any]] | None = None) -> Project:
    return Project.model_validate(
        {
            "name": "baseline-rollout",
            "title": TITLE,
            "kind": "compliance",
            "objectives": ["Every host shows the login banner", "sshd runs hardened everywhere"],
            "scope": {"inventory": "inventory/lab/hosts.yml"},
            "phases": [{"name": "execution", "start": "2026-11-26", "end": "2026-11-27"}],
            "milestones": [{"name": "Fleet compliant", "due": "2026-11-27", "phase": "execution"}],
            "team": team
            if team is not None
            else [
                {
                    "name": "Dana Engineer",
                    "role": "engineer",
                    "user": "dana",
                    "email": "dana@example.com",
                    "on_call": True,
                },
                {"name": "Chris Change", "role": "change_manager", "user": "chris", "email": "chris@example.com"},
            ],
            "stakeholders": list(stakeholders),
            "steps": [
                {
                    "name": "baseline",
                    "description": "Banner, service account, time sync and sshd hardening",
                    "playbook": "playbooks/baseline.yml",
                    "checks": ["checks/baseline"],
                    "strategy": {"approval": {"roles": ["change_manager"]}},
                }
            ],
        }
    )


def approval() -> ApprovalRequested:
    return ApprovalRequested(
        run_id=RUN, project="baseline-rollout", at=AT, step="baseline", roles=["change_manager"], requester="dana"
    )


def halt() -> RunHalted:
    return RunHalted(
        run_id=RUN,
        project="baseline-rollout",
        at=AT,
        step="baseline",
        batch="baseline/canary",
        reason="h1 failed check test_sshd_hardened: PermitRootLogin is yes",
        next_steps=f"Fix sshd on h1 (the canary was rolled back), then: itpm resume {RUN}",
    )


def finished(status: str) -> RunFinished:
    return RunFinished(run_id=RUN, project="baseline-rollout", at=AT, status=status)


def stakeholder(name: str, channel: str | None, *wants: str) -> dict[str, Any]:
    return {"name": name, "role": "sponsor", "wants": list(wants or ["completion"]), "channel": channel}


# -- what to tell whom ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "category"),
    [
        (PhaseChanged(run_id=RUN, project="p", phase="execution"), Notice.PHASE_CHANGES),
        (approval(), Notice.APPROVALS),
        (halt(), Notice.HALTS),
        (finished("halted"), None),  # the RunHalted before it was the notice
        (finished("rejected"), Notice.HALTS),
        (finished("failed"), Notice.HALTS),
        (finished("completed"), Notice.COMPLETION),
        (finished("dry_run"), None),
        (BatchStarted(run_id=RUN, project="p", step="baseline", batch="baseline/canary", hosts=["h1"]), None),
        (NoteAdded(run_id=RUN, project="p", author="dana", text="vendor call at 3"), None),
        (
            NoticeSent(
                run_id=RUN,
                project="p",
                stakeholder="x",
                channel="file",
                about="run_halted",
                subject="s",
                delivered=True,
            ),
            None,
        ),
    ],
)
def test_each_event_maps_to_one_category_or_none(event: Event, category: Notice | None) -> None:
    assert notice_for(event) is category


def test_only_stakeholders_who_want_the_category_and_have_a_channel_hear_of_it(tmp_path: Path) -> None:
    project = make_project(
        stakeholder("Casey CIO", "file:cio", "completion", "halts"),
        stakeholder("Ops", "file:ops", "halts"),
        stakeholder("Silent Sam", None, "halts"),  # no channel: nothing, and no error
    )
    deliveries = notify(project, halt(), BRIEFING, secrets=EnvironmentSecrets({}), base_dir=tmp_path)
    assert [(d.stakeholder, d.delivered, d.error) for d in deliveries] == [("Casey CIO", True, ""), ("Ops", True, "")]
    completed = notify(project, finished("completed"), BRIEFING, secrets=EnvironmentSecrets({}), base_dir=tmp_path)
    assert [d.stakeholder for d in completed] == ["Casey CIO"]
    assert notify(project, finished("dry_run"), BRIEFING, secrets=EnvironmentSecrets({}), base_dir=tmp_path) == []
    assert notify(project, approval(), BRIEFING, secrets=EnvironmentSecrets({}), base_dir=tmp_path) == []


# -- the message ---------------------------------------------------------------------------------------------------


def test_an_approval_request_says_who_may_approve_and_how() -> None:
    message = compose(make_project(), approval(), BRIEFING)
    assert message.subject == f"[itpm] {TITLE}: approval needed for step 'baseline'"
    text = message.text
    assert text.startswith(f"{TITLE} (project baseline-rollout, environment lab).\nRun {RUN}, 2026-11-27 14:00 UTC.\n")
    assert "Step 'baseline' waits for approval before it changes any host; dana requested the run." in text
    assert "The step: Banner, service account, time sync and sshd hardening." in text
    assert (
        "A team member with role change_manager, other than dana, approves or rejects the step: "
        "Chris Change (change_manager, login chris)." in text
    )
    assert f"\n    itpm approve {RUN} --as <login>\n" in text
    assert f"\n    itpm approve {RUN} --as <login> --reject --comment '<why>'\n" in text
    assert f"Or answer the form of the paused flow run in the Prefect UI: {UI}" in text
    assert "If nobody answers within 72 hours, the run stops before changing the step's hosts." in text
    assert "Progress: 12 of 20 host-steps verified (60%)." in text
    assert "Schedule: projected finish 2026-11-27 14:00 UTC, on time for milestone 'Fleet compliant'" in text
    assert "Budget: EUR 1,240 of 4,000 spent (31%); forecast at completion EUR 3,100." in text
    assert f"\nitpm status {RUN}\n" in text
    assert f"`itpm approve {RUN} --as <login>`" in message.markdown
    assert message.markdown.startswith(f"# {TITLE}: approval needed for step 'baseline'\n")
    assert f"- <{UI}>" in message.markdown
    _assert_plain(message)


def test_a_signed_gate_asked_again_says_why_how_to_sign_and_how_many_approve() -> None:
    asked = approval().model_copy(
        update={
            "signatures_required": True,
            "approvals_needed": 2,
            "lapsed": "the approval by chris (plan sha256:3f1c…) no longer holds: the plan changed: h2 would also "
            "change 'motd'",
        }
    )
    text = compose(make_project(), asked, BRIEFING).text
    assert "Asked again: the approval by chris (plan sha256:3f1c…) no longer holds" in text
    assert "This change needs 2 approvals from different people and roles." in text
    assert "Answers must be signed with the approver's SSH key; unsigned ones are refused." in text
    assert f"\n    itpm approve {RUN} --as <login> --key ~/.ssh/id_ed25519\n" in text
    assert f"\n    itpm approve {RUN} --as <login> --key ~/.ssh/id_ed25519 --reject --comment '<why>'\n" in text
    unsigned = compose(make_project(), approval(), BRIEFING).text
    assert "--key" not in unsigned and "Asked again" not in unsigned and "approvals from different" not in unsigned


def test_an_approval_nobody_else_can_give_says_to_add_an_approver() -> None:
    team = [{"name": "Dana Engineer", "role": "change_manager", "user": "dana"}]
    message = compose(make_project(team=team), approval(), Briefing())
    assert (
        "Nobody on the team but dana, who requested the run, has role change_manager: "
        "add an approver to the project's team first." in message.text
    )
    assert "What it means" not in message.text  # no figures given, no empty section
    assert "Or answer the form of the paused flow run in the Prefect UI.\n" in message.text


def test_a_halt_gives_the_reason_the_next_steps_and_who_is_on_call() -> None:
    message = compose(make_project(), halt(), BRIEFING)
    assert message.subject == f"[itpm] {TITLE}: run halted at step 'baseline', batch canary"
    assert (
        "The run halted at step 'baseline', batch canary: h1 failed check test_sshd_hardened: PermitRootLogin is yes."
        in message.text
    )
    assert "On call: Dana Engineer (dana@example.com)." in message.text
    next_steps = f"Fix sshd on h1 (the canary was rolled back), then: itpm resume {RUN}."
    assert f"What is asked of you\n--------------------\n{next_steps}\n" in message.text
    assert message.data["asked"] == [next_steps]
    _assert_plain(message)


def test_a_phase_change_gives_the_planned_dates_and_milestones() -> None:
    event = PhaseChanged(run_id=RUN, project="baseline-rollout", at=AT, phase="monitoring_and_control")
    assert (
        compose(make_project(), event, BRIEFING).subject == f"[itpm] {TITLE}: entered the monitoring and control phase"
    )
    message = compose(
        make_project(), PhaseChanged(run_id=RUN, project="baseline-rollout", at=AT, phase="execution"), BRIEFING
    )
    assert message.subject == f"[itpm] {TITLE}: entered the execution phase"
    assert (
        "The run entered the execution phase.\nThe plan has this phase from 2026-11-26 to 2026-11-27.\n" in message.text
    )
    assert "Milestone 'Fleet compliant' is due 2026-11-27." in message.text
    assert "Nothing: this is for your information." in message.text
    _assert_plain(message)


@pytest.mark.parametrize(
    ("status", "headline", "sentence"),
    [
        ("completed", "run completed", "The run completed: every step of the project is done and verified."),
        ("halted", "run ended halted", "the halt notice before this one says why."),
        ("rejected", "run ended rejected", "an approver rejected a step; that step changed no host."),
        ("failed", "run failed", "the flow run's logs in the Prefect UI say why."),
    ],
)
def test_the_end_of_a_run_says_how_it_ended(status: str, headline: str, sentence: str) -> None:
    message = compose(make_project(), finished(status), BRIEFING)
    assert message.subject == f"[itpm] {TITLE}: {headline}"
    assert sentence in message.text
    _assert_plain(message)


def test_completion_lists_the_objectives_and_the_callers_ask() -> None:
    briefing = Briefing(asked="Sign off the closure report by 2026-12-01", links=[UI])
    message = compose(make_project(), finished("completed"), briefing)
    assert "Objective: Every host shows the login banner.\nObjective: sshd runs hardened everywhere.\n" in message.text
    assert "What is asked of you\n--------------------\nSign off the closure report by 2026-12-01.\n" in message.text


def test_the_webhook_body_is_json_with_the_event_and_the_figures() -> None:
    message = compose(make_project(), halt(), BRIEFING)
    data = json.loads(json.dumps(message.data))
    assert data["source"] == "itpm"
    assert (data["about"], data["category"], data["run_id"]) == ("run_halted", "halts", RUN)
    assert data["subject"] == message.subject and data["text"] == message.text
    assert data["project"] == {"name": "baseline-rollout", "title": TITLE, "kind": "compliance", "environment": "lab"}
    assert data["at"] == "2026-11-27T14:00:05.123456+00:00"
    assert data["event"]["reason"] == "h1 failed check test_sshd_hardened: PermitRootLogin is yes"
    assert data["event"]["batch"] == "baseline/canary"
    assert data["briefing"]["budget"] == BRIEFING.budget
    assert data["links"] == BRIEFING.links


def _assert_plain(message: Message) -> None:
    """No Python reprs or unset values leak into what a person reads."""
    for text in (message.subject, message.text, message.markdown):
        for leak in ("None", "datetime(", "Notice.", "PhaseName.", "[]", "{}", "<ChannelKind"):
            assert leak not in text, (leak, text)
    assert "\n" not in message.subject


# -- channel addresses and secrets ---------------------------------------------------------------------------------


def test_channels_parse_into_kind_and_address() -> None:
    assert parse_channel("email:cio@example.com") == ChannelAddress(ChannelKind.EMAIL, "cio@example.com")
    assert parse_channel("webhook:https://hooks.example.com/itpm") == ChannelAddress(
        ChannelKind.WEBHOOK, "https://hooks.example.com/itpm"
    )
    assert parse_channel("file:reports/stakeholders") == ChannelAddress(ChannelKind.FILE, "reports/stakeholders")
    assert parse_channel("webhook:secret:ops-webhook-url") == ChannelAddress(
        ChannelKind.WEBHOOK, "ops-webhook-url", secret=True
    )


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("sms:+4912345", "channel 'sms:+4912345': start it with email:, webhook:, file: (e.g. email:cio@example.com)"),
        ("cio@example.com", "start it with email:, webhook:, file:"),
        ("email:Casey <cio@example.com>", "not an e-mail address"),
        ("email:cio@example.com\nBcc: all@example.com", "not an e-mail address"),
        ("webhook:ftp://hooks.example.com/x", "webhook to ftp://hooks.example.com/x: not an http:// or https://"),
        ("webhook:https://", "not an http:// or https:// address with a host name"),
        ("file:", "give a directory"),
        ("webhook:secret:no spaces", "a secret name is letters, digits, dashes and underscores"),
    ],
)
def test_bad_channels_say_what_is_expected(channel: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        parse_channel(channel)


def test_secret_names_map_to_environment_variables_and_prefect_blocks() -> None:
    assert env_var_name("ops-webhook-url") == "OPS_WEBHOOK_URL"
    assert env_var_name("ITPM_SMTP_PASSWORD") == "ITPM_SMTP_PASSWORD"
    assert block_name("ITPM_SMTP_PASSWORD") == "itpm-smtp-password"
    assert block_name("ops-webhook-url") == "ops-webhook-url"
    secrets = EnvironmentSecrets({"OPS_WEBHOOK_URL": "https://hooks.example.com/T0k", "EMPTY": ""})
    assert secrets.get("ops-webhook-url") == "https://hooks.example.com/T0k"
    assert secrets.get("empty") is None and secrets.get("missing") is None


def test_a_missing_or_unfit_secret_address_names_the_secret_not_its_value(tmp_path: Path) -> None:
    project = make_project(
        stakeholder("Ops", "webhook:secret:ops-webhook-url"), stakeholder("CIO", "email:secret:cio-address")
    )
    secrets = EnvironmentSecrets({"CIO_ADDRESS": "not-an-address-S3cret"})
    deliveries = notify(project, finished("completed"), BRIEFING, secrets=secrets, base_dir=tmp_path)
    assert [d.error for d in deliveries] == [
        "webhook to secret:ops-webhook-url: no secret named 'ops-webhook-url' is set",
        "email to secret:cio-address: not an e-mail address (expected one mailbox like cio@example.com)",
    ]


# -- email over SMTP -----------------------------------------------------------------------------------------------


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    def point_at(port: int) -> None:
        monkeypatch.setenv("ITPM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ITPM_SMTP_PORT", str(port))
        monkeypatch.setenv("ITPM_SMTP_FROM", "itpm@example.com")
        monkeypatch.setenv("ITPM_SMTP_TIMEOUT", "5")
        monkeypatch.setenv("ITPM_SMTP_USER", "itpm-mailer")
        monkeypatch.setenv("ITPM_SMTP_PASSWORD", GOOD_LOGIN[1])
        monkeypatch.delenv("ITPM_SMTP_STARTTLS", raising=False)

    return point_at


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_email_reaches_a_real_smtp_server_after_auth(
    mechanism: str, smtp_env: Callable[[int], None], tmp_path: Path
) -> None:
    project = make_project(stakeholder("Casey CIO", "email:cio@example.com", "approvals"))
    with smtp_server(login=GOOD_LOGIN, only=mechanism) as mailbox:
        smtp_env(mailbox.port)
        deliveries = notify(project, approval(), BRIEFING, base_dir=tmp_path)  # secrets: the environment
    subject = f"[itpm] {TITLE}: approval needed for step 'baseline'"
    assert deliveries == [
        Delivery("Casey CIO", ChannelKind.EMAIL, "approval_requested", subject, delivered=True, error="")
    ]
    assert mailbox.logins == [(mechanism, "itpm-mailer")]
    [(envelope, session)] = mailbox.mails
    assert session.authenticated
    assert (envelope.mail_from, envelope.rcpt_tos) == ("itpm@example.com", ["cio@example.com"])
    mail = received_mail(envelope)
    assert (mail["To"], mail["From"], mail["Subject"]) == ("cio@example.com", "itpm@example.com", subject)
    assert mail["X-Itpm-Run"] == RUN
    body = mail.get_content()
    assert f"itpm approve {RUN} --as <login>" in body
    assert "Budget: EUR 1,240 of 4,000 spent (31%); forecast at completion EUR 3,100." in body


def test_a_refused_login_and_a_refused_port_are_deliveries_not_exceptions(
    smtp_env: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = make_project(stakeholder("Casey CIO", "email:cio@example.com", "halts"))
    with smtp_server(login=("itpm-mailer", "another one")) as mailbox:
        smtp_env(mailbox.port)
        [refused] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert not refused.delivered and not mailbox.mails
    assert refused.error == (
        f"email to cio@example.com via 127.0.0.1:{mailbox.port}: the server refused the login "
        "(535 5.7.8 Authentication credentials invalid): check ITPM_SMTP_USER and ITPM_SMTP_PASSWORD"
    )
    closed = free_port()
    monkeypatch.setenv("ITPM_SMTP_PORT", str(closed))
    [unreachable] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert unreachable.error == (
        f"email to cio@example.com via 127.0.0.1:{closed}: "
        "connection refused (nothing listens there, or a firewall rejects it)"
    )


def test_smtp_settings_problems_say_which_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    project = make_project(stakeholder("Casey CIO", "email:cio@example.com", "halts"))
    for name in ("ITPM_SMTP_HOST", "ITPM_SMTP_USER", "ITPM_SMTP_PASSWORD", "ITPM_SMTP_PORT", "ITPM_SMTP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)
    [missing] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert missing.error == "email to cio@example.com: ITPM_SMTP_HOST is not set: set it to the mail relay's host name"
    monkeypatch.setenv("ITPM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ITPM_SMTP_PORT", "smtp")
    [port] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert port.error == "email to cio@example.com: ITPM_SMTP_PORT='smtp' is not a number"


def test_starttls_against_a_server_without_it_says_so(
    smtp_env: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = make_project(stakeholder("Casey CIO", "email:cio@example.com", "halts"))
    with smtp_server(login=GOOD_LOGIN) as mailbox:
        smtp_env(mailbox.port)
        monkeypatch.setenv("ITPM_SMTP_STARTTLS", "true")
        [delivery] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert (
        delivery.error
        == f"email to cio@example.com via 127.0.0.1:{mailbox.port}: STARTTLS extension not supported by server."
    )


# -- webhooks ------------------------------------------------------------------------------------------------------


def test_a_webhook_posts_the_json_with_the_bearer_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ITPM_WEBHOOK_TOKEN", "tok-123")
    with http_receiver() as receiver:
        project = make_project(stakeholder("Ops", f"webhook:{receiver.url}/hooks/itpm", "halts"))
        [delivery] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert (delivery.delivered, delivery.error, delivery.channel) == (True, "", ChannelKind.WEBHOOK)
    [request] = receiver.posted
    assert request.path == "/hooks/itpm"
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(request.body) == json.loads(json.dumps(compose(project, halt(), BRIEFING).data))


def test_a_webhook_without_a_token_sends_no_authorization(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ITPM_WEBHOOK_TOKEN", raising=False)
    with http_receiver() as receiver:
        project = make_project(stakeholder("Ops", f"webhook:{receiver.url}/", "halts"))
        [delivery] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert delivery.delivered
    assert "Authorization" not in receiver.posted[0].headers


def test_webhook_failures_name_the_host_and_what_it_answered(tmp_path: Path) -> None:
    closed = free_port()
    with http_receiver(lambda posted: (500, None)) as failing, http_receiver(lambda posted: (302, None)) as moved:
        project = make_project(
            stakeholder("Ops", f"webhook:{failing.url}/hooks/itpm", "halts"),
            stakeholder("Moved", f"webhook:{moved.url}/old", "halts"),
            stakeholder("Gone", f"webhook:http://127.0.0.1:{closed}/hooks/itpm", "halts"),
        )
        deliveries = notify(project, halt(), BRIEFING, secrets=EnvironmentSecrets({}), base_dir=tmp_path)
    host = failing.url.removeprefix("http://")
    assert [(d.delivered, d.error) for d in deliveries] == [
        (False, f"webhook to {host} answered HTTP 500 Internal Server Error"),
        (
            False,
            f"webhook to {moved.url.removeprefix('http://')} answered HTTP 302 Found "
            "(itpm does not follow redirects: give the final address)",
        ),
        (False, f"webhook to 127.0.0.1:{closed}: connection refused (nothing listens there, or a firewall rejects it)"),
    ]
    assert len(moved.posted) == 1  # and nothing went to the redirect's target, which would have had the token


def test_a_webhook_that_does_not_answer_times_out(tmp_path: Path) -> None:
    quick = {**default_channels(tmp_path), ChannelKind.WEBHOOK: WebhookChannel(timeout_s=0.3)}
    with http_receiver(hold=threading.Event()) as silent:
        project = make_project(stakeholder("Ops", f"webhook:{silent.url}/hooks", "halts"))
        [delivery] = notify(
            project, halt(), BRIEFING, secrets=EnvironmentSecrets({}), base_dir=tmp_path, channels=quick
        )
    assert delivery.error == f"webhook to {silent.url.removeprefix('http://')}: no answer within 0.3 s"


# -- file drop -----------------------------------------------------------------------------------------------------


def test_a_file_drop_writes_markdown_and_json(tmp_path: Path) -> None:
    project = make_project(stakeholder("Casey CIO", "file:reports/stakeholders", "halts"))
    [delivery] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert delivery.delivered and delivery.channel is ChannelKind.FILE
    stem = f"20261127T140005.123456Z-{RUN}-run_halted"
    drop = tmp_path / "reports" / "stakeholders"
    assert sorted(p.name for p in drop.iterdir()) == [f"{stem}.json", f"{stem}.md"]
    message = compose(project, halt(), BRIEFING)
    assert (drop / f"{stem}.md").read_text() == message.markdown
    assert json.loads((drop / f"{stem}.json").read_text()) == json.loads(json.dumps(message.data))


def test_a_file_drop_that_cannot_write_says_where(tmp_path: Path) -> None:
    (tmp_path / "reports").write_text("a file where the directory should be")
    project = make_project(stakeholder("Casey CIO", "file:reports/stakeholders", "halts"))
    [delivery] = notify(project, halt(), BRIEFING, base_dir=tmp_path)
    assert delivery.error == f"file drop in {tmp_path}/reports/stakeholders: cannot write there (Not a directory)"


# -- dispatch never raises, and its record for the log -------------------------------------------------------------


class _Exploding:
    def send(self, to: Destination, message: Message, secrets: SecretSource) -> None:
        raise RuntimeError(f"bug while sending to {to.value}")


class _BrokenSource:
    def get(self, name: str) -> str | None:
        raise OSError("vault unreachable")


def test_notify_turns_every_failure_into_a_delivery(tmp_path: Path) -> None:
    project = make_project(
        stakeholder("Ops", "webhook:secret:ops-webhook-url", "halts"),
        stakeholder("Buggy", "file:reports", "halts"),
    )
    # Loading a project file refuses an unknown channel; notify must not trust that every Project was loaded so.
    pager = Stakeholder.model_construct(name="Pager", role="on-call", wants=(Notice.HALTS,), channel="sms:+4912345")
    project = project.model_copy(update={"stakeholders": (pager, *project.stakeholders)})
    channels: dict[ChannelKind, Channel] = {ChannelKind.FILE: _Exploding()}
    deliveries = notify(project, halt(), BRIEFING, secrets=_BrokenSource(), base_dir=tmp_path, channels=channels)
    assert [(d.channel, d.delivered, d.error) for d in deliveries] == [
        (None, False, "channel 'sms:+4912345': start it with email:, webhook:, file: (e.g. email:cio@example.com)"),
        (ChannelKind.WEBHOOK, False, "webhook to secret:ops-webhook-url: no secret named 'ops-webhook-url' is set"),
        (ChannelKind.FILE, False, "file to Buggy failed unexpectedly: RuntimeError: bug while sending to reports"),
    ]


def test_a_message_that_cannot_be_composed_is_reported_per_stakeholder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(project: Project, event: Event, briefing: Briefing) -> Message:
        raise KeyError("phase")

    monkeypatch.setattr("itpm.notify.dispatch.compose", broken)
    project = make_project(stakeholder("Casey CIO", "file:reports", "halts"))
    [delivery] = notify(project, halt(), BRIEFING, secrets=EnvironmentSecrets({}), base_dir=tmp_path)
    assert (delivery.channel, delivery.delivered) == (ChannelKind.FILE, False)
    assert delivery.error == "itpm could not compose the notice (KeyError: 'phase')"
    assert not (tmp_path / "reports").exists()


def test_a_delivery_becomes_the_logs_notice_sent() -> None:
    delivery = Delivery(
        "Ops", ChannelKind.WEBHOOK, "run_halted", "[itpm] x: run halted", delivered=False, error="webhook to h failed"
    )
    event = delivery.to_event(run_id=RUN, project="baseline-rollout", step="baseline")
    assert event == NoticeSent(
        run_id=RUN,
        project="baseline-rollout",
        at=event.at if event else AT,
        step="baseline",
        stakeholder="Ops",
        channel="webhook",
        about="run_halted",
        subject="[itpm] x: run halted",
        delivered=False,
        error="webhook to h failed",
    )
    assert (
        Delivery("Pager", None, "run_halted", "s", delivered=False, error="sms").to_event(run_id=RUN, project="p")
        is None
    )


# -- secrets never leak --------------------------------------------------------------------------------------------

SMTP_LOGIN = ("itpm-mailer", "pw-S3cret-smtp-4711")
BEARER = "tok-S3cret-hook-0815"
ADDRESS = "cio.S3cret@example.com"


def test_no_secret_value_appears_in_any_delivery_error_message_file_or_log(
    smtp_env: Callable[[int], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="itpm")
    caplog.set_level(logging.DEBUG, logger="flows")
    closed = free_port()

    def echo_auth(posted: Posted) -> tuple[int, str]:  # a hostile receiver quotes the token back in its answer
        return 401, f"Unauthorized {posted.headers.get('Authorization')}"

    with (
        smtp_server(login=SMTP_LOGIN) as good,
        smtp_server(login=("itpm-mailer", "other"), refusal=lambda user, secret: f"535 {user}:{secret} wrong") as echo,
        http_receiver() as ok,
        http_receiver(lambda posted: (500, None)) as failing,
        http_receiver(echo_auth) as echoing,
    ):
        secret_urls = {
            "OPS_WEBHOOK_URL": f"{ok.url}/hooks/S3cretPath-ok",
            "FAILING_HOOK": f"{failing.url}/hooks/S3cretPath-500",
            "ECHOING_HOOK": f"{echoing.url}/hooks/S3cretPath-401",
            "REFUSED_HOOK": f"http://127.0.0.1:{closed}/hooks/S3cretPath-refused",
        }
        secrets = EnvironmentSecrets(
            {"ITPM_SMTP_USER": "itpm-mailer", "ITPM_SMTP_PASSWORD": SMTP_LOGIN[1], "ITPM_WEBHOOK_TOKEN": BEARER}
            | {"CIO_ADDRESS": ADDRESS}
            | secret_urls
        )
        project = make_project(
            stakeholder("CIO", "email:secret:cio-address", "halts"),
            stakeholder("Ops", "webhook:secret:ops-webhook-url", "halts"),
            stakeholder("Failing", "webhook:secret:failing-hook", "halts"),
            stakeholder("Echoing", "webhook:secret:echoing-hook", "halts"),
            stakeholder("Refused", "webhook:secret:refused-hook", "halts"),
            stakeholder("Files", "file:reports/stakeholders", "halts"),
        )
        smtp_env(good.port)
        delivered = notify(project, halt(), BRIEFING, secrets=secrets, base_dir=tmp_path)
        monkeypatch.setenv("ITPM_SMTP_PORT", str(echo.port))  # the same mail to a relay that quotes the login back
        refused_mail = notify(project, halt(), BRIEFING, secrets=secrets, base_dir=tmp_path)[0]

    # The secrets were really used: the mail went to the secret address, the token and the URLs reached servers.
    assert [d.delivered for d in delivered] == [True, True, False, False, False, True]
    assert good.mails[0][0].rcpt_tos == [ADDRESS]
    assert ok.posted[0].headers["Authorization"] == f"Bearer {BEARER}"
    assert echo.logins and not refused_mail.delivered
    # The login came from the secret source too (ITPM_SMTP_USER is a credential), so it is scrubbed as well.
    assert refused_mail.error == (
        f"email to secret:cio-address via 127.0.0.1:{echo.port}: the server refused the login "
        "(535 [secret]:[secret] wrong): check ITPM_SMTP_USER and ITPM_SMTP_PASSWORD"
    )
    assert (
        delivered[3].error
        == "webhook to secret:echoing-hook answered HTTP 401 Unauthorized Bearer [secret] (check ITPM_WEBHOOK_TOKEN)"
    )
    assert delivered[2].error == "webhook to secret:failing-hook answered HTTP 500 Internal Server Error"

    deliveries = [*delivered, refused_mail]
    message = compose(project, halt(), BRIEFING)
    haystack = [
        *(repr(d) for d in deliveries),
        *(e.model_dump_json() for d in deliveries if (e := d.to_event(run_id=RUN, project=project.name))),
        repr(message),
        message.text,
        message.markdown,
        json.dumps(message.data),
        *(p.read_text() for p in tmp_path.rglob("*") if p.is_file()),
        *(posted.body.decode() for posted in (*ok.posted, *failing.posted, *echoing.posted)),
        *(f"{r.name} {r.getMessage()}" for r in caplog.records),
        repr(secrets),
    ]
    assert len(list((tmp_path / "reports" / "stakeholders").iterdir())) == 2
    for secret in (SMTP_LOGIN[1], BEARER, ADDRESS, *secret_urls.values(), "S3cretPath"):
        hits = [text for text in haystack if secret in text]
        assert hits == [], secret


# -- Prefect Secret blocks (flows/secrets.py) ------------------------------------------------------------------------


def test_prefect_secrets_read_blocks_verbatim_and_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITPM_WEBHOOK_TOKEN", "from-the-environment")
    monkeypatch.setenv("ITPM_SMTP_PASSWORD", "not-this-one")
    with prefect_test_harness(server_startup_timeout=60):
        # "12.50" is a password, not a number: Secret.get() would hand back the float 12.5.
        Secret(value="12.50").save(block_name("ITPM_SMTP_PASSWORD"), overwrite=True)
        secrets = PrefectSecrets()
        assert secrets.get("ITPM_SMTP_PASSWORD") == "12.50"
        assert secrets.get("ITPM_WEBHOOK_TOKEN") == "from-the-environment"  # no block of that name
        assert secrets.get("ops-webhook-url") is None
    assert "12.50" not in repr(secrets)


@pytest.mark.parametrize("name", ["ops-webhook-url\n", "a b", "../x", ""])
def test_secret_names_are_whole_names_only(name: str) -> None:
    assert not valid_secret_name(name)
    assert valid_secret_name("ops-webhook-url")
