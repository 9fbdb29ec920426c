"""The peer mando is measured against: a Discord interactions endpoint in Flask + PyNaCl.

This is the stack a small bot starts with (Discord's own examples use it): verify the Ed25519
signature over timestamp + body, answer PING with PONG and a command with a message. Run it under
gunicorn, as bench/interactions.sh does with BENCH_PEER=flask:

    MANDO_PEER_PUBLIC_KEY=<hex> gunicorn -w 2 -b 127.0.0.1:8000 --chdir bench/peer \
        flask_interactions:app
"""

import os

from flask import Flask, abort, jsonify, request
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

PING = 1
APPLICATION_COMMAND = 2
PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4

app = Flask(__name__)
verify_key = VerifyKey(bytes.fromhex(os.environ["MANDO_PEER_PUBLIC_KEY"]))


@app.post("/interactions")
def interactions():
    signature = request.headers.get("X-Signature-Ed25519", "")
    timestamp = request.headers.get("X-Signature-Timestamp", "")
    try:
        verify_key.verify(timestamp.encode() + request.get_data(), bytes.fromhex(signature))
    except (BadSignatureError, ValueError):
        abort(401, "invalid request signature")
    interaction = request.get_json()
    if interaction["type"] == PING:
        return jsonify(type=PONG)
    if interaction["type"] == APPLICATION_COMMAND:
        name = interaction["data"]["name"]
        return jsonify(type=CHANNEL_MESSAGE_WITH_SOURCE, data={"content": f"/{name} received"})
    abort(400, "unsupported interaction type")
