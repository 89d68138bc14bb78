"""`scoreboard play`: take a ticket, sign, increment, against a running stack (a dev helper)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

import httpx

from scoreboard.security.bearer import mint_dev_token
from scoreboard.security.client import build_increment_request
from services.cli import dev_secrets

NAMESPACE = uuid.UUID("6f1c3a56-2d0e-4a7e-9c1b-5b8d7e0a9f42")


def play(args: argparse.Namespace) -> int:
    secret = dev_secrets.jwt_secret(args.data_dir)
    key = dev_secrets.signing_key(args.data_dir)
    if not secret or not key:
        print(
            "scoreboard play: no dev secrets; start `scoreboard dev` first or set the SCOREBOARD_ variables",
            file=sys.stderr,
        )
        return 2
    user_id = uuid.UUID(args.user) if args.user else uuid.uuid5(NAMESPACE, args.name)
    token = mint_dev_token(secret, user_id=user_id, name=args.name, ttl_s=300)
    with httpx.Client(base_url=args.api, timeout=10) as client:
        ticket = client.post(
            "/api/actions", json={"type": args.action_type}, headers={"authorization": f"Bearer {token}"}
        )
        if ticket.status_code != 201:
            print(ticket.text, file=sys.stderr)
            return 1
        issued = ticket.json()
        time.sleep(max(0.0, issued["notBefore"] / 1000 - time.time()))
        key_id, signing_key = key
        request = build_increment_request(
            token=token,
            signing_key=signing_key,
            key_id=key_id,
            user_id=str(user_id),
            action_id=issued["actionId"],
            nonce=issued["nonce"],
        )
        result = client.post("/api/scores/increment", json=request.body, headers=request.headers)
    print(json.dumps(result.json()))
    return 0 if result.status_code == 200 else 1
