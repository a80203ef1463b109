"""Seeds one fuzz run's data through Polis's own API and writes schemathesis dictionaries.

Schemathesis cannot guess the UUIDs and slugs that org-scoped routes need, so this script
creates them (with the admin API key) and writes them as libFuzzer-style dictionaries that
schemathesis.toml binds to path and body parameters.

Usage: POLIS_URL=... FUZZ_API_KEY=... python seed.py LABEL OUT_DIR
LABEL makes slugs and the custom role unique per run, so runs sharing a database do not collide.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

IDENTITIES = json.loads((Path(__file__).parent / "identities.json").read_text())["identities"]
ALICE, BOB, CAROL, DAVE, ERIN = (identity["id"] for identity in IDENTITIES)


class Polis:
    def __init__(self, url: str, api_key: str) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key

    def call(self, method: str, path: str, body: object = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.api_key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            sys.exit(f"seed: {method} {path} answered {error.code}: {detail}")
        return json.loads(raw) if raw else {}


def create_org(polis: Polis, name: str, slug: str, creator: str) -> dict:
    return polis.call(
        "POST",
        "/orgs",
        {
            "name": name,
            "slug": slug,
            "created_by": creator,
            "public_metadata": {"plan": "fuzz", "seats": 5},
            "private_metadata": {"crm_id": f"crm-{slug}"},
        },
    )


def invite(polis: Polis, org: dict, email: str, role: str = "org:member") -> dict:
    return polis.call(
        "POST",
        f"/orgs/{org['id']}/invitations",
        {
            "email_address": email,
            "role": role,
            "redirect_url": "https://app.example.com/join",
            "public_metadata": {"source": "fuzz"},
        },
    )


def write_dictionary(out: Path, name: str, values: list) -> None:
    lines = [json.dumps(str(value)) for value in values]
    (out / f"{name}.dict").write_text("\n".join(lines) + "\n")


def main() -> None:
    label, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    polis = Polis(os.environ["POLIS_URL"], os.environ["FUZZ_API_KEY"])

    role_key = f"org:fuzz_{label.replace('-', '_')}"
    polis.call(
        "POST",
        "/roles",
        {
            "key": role_key,
            "name": f"Fuzz manager {label}",
            "description": "Reads and manages memberships",
            "permissions": ["org:sys_memberships:read", "org:sys_memberships:manage"],
        },
    )

    # Alice (the session caller) administers `home`; Bob and Carol are members there.
    home = create_org(polis, f"Fuzz home {label}", f"fuzz-home-{label}", ALICE)
    polis.call("POST", f"/orgs/{home['id']}/members", {"identity_id": BOB, "role": "org:member"})
    polis.call("POST", f"/orgs/{home['id']}/members", {"identity_id": CAROL, "role": role_key})
    home_invitation = invite(polis, home, "dave@example.com")
    # `other` is Erin's: Alice is not a member (404s), but is invited there.
    other = create_org(polis, f"Fuzz other {label}", f"fuzz-other-{label}", ERIN)
    alice_invitation = invite(polis, other, "alice@example.com", role_key)
    bob_invitation = invite(polis, other, "bob@example.com")
    # A second invitation for Alice, so that declining has one left after accepting the first.
    away = create_org(polis, f"Fuzz away {label}", f"fuzz-away-{label}", ERIN)
    alice_second_invitation = invite(polis, away, "alice@example.com")
    # Only DELETE /orgs/{org} gets these, so deleting them leaves the others for every other route.
    doomed = [create_org(polis, f"Fuzz doomed {label} {n}", f"fuzz-doomed-{label}-{n}", ALICE) for n in (1, 2)]

    write_dictionary(out, "orgs", [home["id"], home["slug"], other["id"], other["slug"]])
    write_dictionary(out, "doomed_orgs", [org["id"] for org in doomed] + [org["slug"] for org in doomed])
    write_dictionary(out, "identities", [identity["id"] for identity in IDENTITIES])
    invitations = [home_invitation, alice_invitation, alice_second_invitation, bob_invitation]
    write_dictionary(out, "invitations", [invitation["id"] for invitation in invitations])
    write_dictionary(out, "invitation_tokens", [invitation["token"] for invitation in invitations[1:]])
    write_dictionary(out, "roles", ["org:admin", "org:member", role_key])
    # Keys POST /roles has not seen yet, so that some role creations succeed.
    write_dictionary(out, "new_role_keys", [f"{role_key}_{n}" for n in range(1, 6)])
    write_dictionary(
        out,
        "permissions",
        ["org:sys_memberships:read", "org:sys_profile:manage", "org:invoices:read", "org:invoices:write"],
    )
    write_dictionary(out, "emails", ["dave@example.com", "alice@example.com", "Erin@Example.com"])
    print(f"seed: {label}: orgs {home['slug']}, {other['slug']}; role {role_key}")


if __name__ == "__main__":
    main()
