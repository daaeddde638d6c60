"""The one door to customer data: the vault behind a capability that approve
mints, the sealed production package, its one-time collection link, and the
legal-process documents a case carries, and the holds preservations take. Nothing
else reads the vault."""

from workflows.disclosure.documents import MAX_BYTES as DOCUMENT_MAX_BYTES
from workflows.disclosure.documents import attach as attach_document
from workflows.disclosure.documents import check_upload, open_for_upload
from workflows.disclosure.documents import download_name as document_download_name
from workflows.disclosure.documents import fetch as fetch_document
from workflows.disclosure.documents import folder_for as document_folder
from workflows.disclosure.documents import store as store_document
from workflows.disclosure.door import (
    Capability,
    CapabilityError,
    Deposit,
    Package,
    deposit,
    mint,
    produce,
    vault_size,
)
from workflows.disclosure.holds import delete_account, held_counts, record_digest
from workflows.disclosure.holds import hold as hold_records
from workflows.disclosure.holds import release as release_hold
from workflows.disclosure.leftovers import sweep as sweep_leftovers
from workflows.disclosure.links import (
    LINK_ROLES,
    NOTE_MAX,
    Collected,
    collect,
    current_link,
    inspect,
    link_status,
    reissue,
    stream,
)
from workflows.disclosure.sealing import new_key as new_package_key
from workflows.disclosure.settings import folder as production_folder
from workflows.disclosure.settings import init_app

__all__ = [
    "DOCUMENT_MAX_BYTES", "LINK_ROLES", "NOTE_MAX", "Capability", "CapabilityError", "Collected", "Deposit",
    "Package", "attach_document", "check_upload", "collect", "current_link", "delete_account", "deposit",
    "document_download_name", "document_folder", "fetch_document", "held_counts", "hold_records", "init_app",
    "inspect", "link_status", "mint", "new_package_key", "open_for_upload", "produce", "production_folder",
    "record_digest",
    "reissue", "release_hold", "store_document", "stream",
    "sweep_leftovers", "vault_size",
]
