"""Stand-ins for the scanned legal process a demand comes with: small, valid PDFs
a reader (and the upload check) accepts."""

from demo.plans import Plan
from models import ProcessType


def minimal_pdf(lines: list[str]) -> bytes:
    """A valid single-page PDF (Helvetica, ASCII text) with a correct cross-reference table."""
    def escape(text: str) -> str:
        text = text.encode("ascii", "replace").decode()
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("ascii")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode("ascii")
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode("ascii")
    return out


def demo_pdf(plan: Plan, reference: str) -> bytes:
    """A one-page PDF standing in for the scanned legal process."""
    process = plan.body["legal_process"]
    lines = ["Demo legal process", "", f"Reference: {reference}", f"From: {plan.agency.name}",
             f"Process: {ProcessType(process['type']).label}", f"Issued by: {process['issuing_authority']}",
             f"Case number: {process['case_number'] or '-'}", f"Issued on: {process['issued_on'] or '-'}",
             "Accounts: " + ", ".join(plan.body["identifiers"]),
             "Categories: " + ", ".join(plan.body["categories"]),
             "Invented for the demo: no real person, agency or court."]
    return minimal_pdf(lines)
