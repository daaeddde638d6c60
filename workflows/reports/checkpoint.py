"""The key that signs each published report's checkpoint (Ed25519, kept in
instance/, never in the database), and the check anyone can run with its public
half: the report's figures and the head of the audit chain when they were
frozen, signed together."""

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app

from workflows.audit import canonical_json


def init_app(app: Flask, key_pem: str) -> None:
    """The checkpoint key (PEM, from instance/checkpoint_key or CHECKPOINT_KEY)."""
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("CHECKPOINT_KEY must be an Ed25519 private key in PEM.")
    app.extensions["checkpoint_key"] = key


def new_key_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _private() -> Ed25519PrivateKey:
    return current_app.extensions["checkpoint_key"]


def public_key_pem() -> str:
    return _private().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(public: Ed25519PublicKey | None = None) -> str:
    raw = (public or _private().public_key()).public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signed_part(report: dict) -> bytes:
    """What the signature covers: the figures (without the checkpoint itself) and
    the head of the audit chain when they were frozen."""
    body = {k: v for k, v in report.items() if k != "checkpoint"}
    checkpoint = report["checkpoint"]
    return canonical_json({"report_sha256": hashlib.sha256(canonical_json(body)).hexdigest(),
                           "audit_seq": checkpoint["audit_seq"], "audit_hash": checkpoint["audit_hash"],
                           "signed_at": checkpoint["signed_at"]})


def verify_checkpoint(report: dict, public_pem: str) -> bool:
    """Whether a published report's checkpoint is signed by this key."""
    try:
        return signature_holds(signed_part(report), report["checkpoint"]["signature"], public_pem)
    except (KeyError, TypeError):
        return False


def sign(report: dict) -> str:
    """The base64 signature of a report whose checkpoint names the chain's head."""
    return signature_of(signed_part(report))


def signature_of(data: bytes) -> str:
    """Base64 of the key's Ed25519 signature of `data`."""
    return base64.b64encode(_private().sign(data)).decode()


def signature_holds(data: bytes, signature: str, public_pem: str) -> bool:
    """Whether `signature` (base64) is this public key's signature of `data`."""
    public = serialization.load_pem_public_key(public_pem.encode())
    try:
        public.verify(base64.b64decode(signature), data)
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True
