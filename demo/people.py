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
# A grant of power takes two administrators: the second, and the reviewer they proposed.
SECOND_ADMIN = (Role.ADMIN, "Ben Admin")
PROPOSED_STAFF = ("nina.new@demo.example", "Nina New")

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

# name, country, kind, verified, directory number (invented, like everything here)
AGENCIES = [
    ("FBI Seattle Field Office", "US", "law_enforcement", True, "+1 206 555 0140"),
    ("U.S. Attorney's Office, S.D.N.Y.", "US", "prosecutor", True, "+1 212 555 0175"),
    ("Metropolitan Police Service", "GB", "law_enforcement", True, "+44 20 7946 0321"),
    ("Bundeskriminalamt", "DE", "law_enforcement", True, "+49 611 555 0100"),
    ("Australian Federal Police", "AU", "law_enforcement", True, "+61 2 5550 1234"),
    ("Police nationale, OCLCTIC", "FR", "law_enforcement", True, "+33 1 55 50 01 20"),
    ("Procura della Repubblica di Milano", "IT", "prosecutor", True, "+39 02 5550 0133"),
    ("Policia Federal", "BR", "law_enforcement", True, "+55 61 5550 0150"),
    ("Regional Cyber Unit (unverified)", "IN", "law_enforcement", False, "+91 11 5550 0160"),
]

# The e-mail domains on which people may register as an agency's officers.
AGENCY_DOMAINS = {
    "FBI Seattle Field Office": ["fbi-seattle.example"],
    "U.S. Attorney's Office, S.D.N.Y.": ["sdny.example"],
    "Metropolitan Police Service": ["met-police.example"],
    "Bundeskriminalamt": ["bka.example"],
}

# Officers: agency name, e-mail, name, status (verified by a call-back to the agency's
# directory number, waiting for that, or suspended). Ross's name was used in the forged
# emergency request (demo.emergencies): his account is suspended while that is looked into.
OFFICERS = [
    ("FBI Seattle Field Office", "sa.morgan@fbi-seattle.example", "Special Agent Jordan Morgan", "verified"),
    ("FBI Seattle Field Office", "sa.ross@fbi-seattle.example", "Special Agent Sam Ross", "suspended"),
    ("U.S. Attorney's Office, S.D.N.Y.", "ausa.kim@sdny.example", "AUSA Hannah Kim", "verified"),
    ("Metropolitan Police Service", "ds.okafor@met-police.example", "DS Chidi Okafor", "verified"),
    ("Bundeskriminalamt", "k.weber@bka.example", "KHK Katrin Weber", "verified"),
    ("Australian Federal Police", "a.nguyen@afp.example", "Federal Agent Anh Nguyen", "verified"),
    ("Australian Federal Police", "l.harris@afp.example", "Federal Agent Lee Harris", "pending"),
    ("Police nationale, OCLCTIC", "c.martin@oclctic.example", "Commandant Claire Martin", "verified"),
    ("Procura della Repubblica di Milano", "g.rossi@procura-milano.example", "PM Giulia Rossi", "verified"),
    ("Policia Federal", "r.souza@pf.example", "Delegado Rafael Souza", "verified"),
    ("Regional Cyber Unit (unverified)", "inspector@cyber-unit.example", "Inspector Vikram Rao", "pending"),
]
