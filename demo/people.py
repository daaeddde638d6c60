"""Who the demo has: one staff member per role, customers with their accounts, and
agencies from several countries. Plain data, read by the seed and the vault."""

from models import Role

STAFF = [
    (Role.INTAKE, "Ines Intake"),
    (Role.REVIEWER, "Rafael Reviewer"),
    (Role.APPROVER, "Amara Approver"),
    (Role.ADMIN, "Ada Admin"),
    (Role.AUDITOR, "Aurelio Auditor"),
]

# name, kind, country, notice e-mail, accounts, portal user
CUSTOMERS = [
    ("Contoso Ltd", "enterprise", "US", "legal@contoso.example",
     ["alice@contoso.example", "bob@contoso.example", "acct-100200"], "counsel@contoso.example"),
    ("Fabrikam GmbH", "enterprise", "DE", "recht@fabrikam.example",
     ["jonas@fabrikam.example", "mia@fabrikam.example"], None),
    ("Northwind Traders plc", "enterprise", "GB", "legal@northwind.example",
     ["oliver@northwind.example", "acct-330044"], None),
    ("Tailspin Pty Ltd", "enterprise", "AU", "legal@tailspin.example",
     ["charlotte@tailspin.example"], None),
    ("Maria Rossi", "consumer", "IT", "maria.rossi@mail.example",
     ["maria.rossi@mail.example"], "maria.rossi@mail.example"),
    ("Jean Dupont", "consumer", "FR", "jean.dupont@mail.example",
     ["jean.dupont@mail.example", "jdupont"], None),
    ("Emily Clark", "consumer", "US", "emily.clark@mail.example",
     ["emily.clark@mail.example", "eclark"], None),
    ("Kenji Sato", "consumer", "JP", "kenji.sato@mail.example", ["kenji.sato@mail.example"], None),
]

# name, country, kind, verified
AGENCIES = [
    ("FBI Seattle Field Office", "US", "law_enforcement", True),
    ("U.S. Attorney's Office, S.D.N.Y.", "US", "prosecutor", True),
    ("Metropolitan Police Service", "GB", "law_enforcement", True),
    ("Bundeskriminalamt", "DE", "law_enforcement", True),
    ("Australian Federal Police", "AU", "law_enforcement", True),
    ("Police nationale, OCLCTIC", "FR", "law_enforcement", True),
    ("Procura della Repubblica di Milano", "IT", "prosecutor", True),
    ("Policia Federal", "BR", "law_enforcement", True),
    ("Regional Cyber Unit (unverified)", "IN", "law_enforcement", False),
]
