"""What demo demands say: what agencies ask for under each process, who issues
it, the notes reviewers write. All invented: no real person, agency or court."""

from models import Category, ProcessType
from workflows.cases import Trigger

S, N, C = Category.SUBSCRIBER, Category.NON_CONTENT, Category.CONTENT

# What agencies typically ask for under each process (the law may grant less).
ASKS = {
    ProcessType.SUBPOENA: [[S], [S], [S, N]],
    ProcessType.COURT_ORDER: [[S, N], [N], [S, N]],
    ProcessType.SEARCH_WARRANT: [[C], [S, C], [S, N, C]],
    ProcessType.EMERGENCY: [[S], [S, N], [S, N, C], [N]],
    ProcessType.NSL: [[S]],
    ProcessType.FISA_ORDER: [[C], [N], [S, N, C]],
    ProcessType.MLAT: [[C], [S, N, C], [S, C]],
    ProcessType.CLOUD_ACT_ORDER: [[C], [S, N], [S, N, C]],
    ProcessType.EPOC: [[S], [S, N], [C], [S, N, C]],
    ProcessType.LOCAL_ORDER: [[S], [S, N], [S, C]],
    ProcessType.INFORMAL: [[S], [S, N]],
}
AUTHORITIES = {
    ProcessType.SUBPOENA: "Grand Jury, U.S. District Court",
    ProcessType.COURT_ORDER: "U.S. District Court (18 U.S.C. 2703(d))",
    ProcessType.SEARCH_WARRANT: "U.S. Magistrate Judge",
    ProcessType.NSL: "Federal Bureau of Investigation, Deputy Assistant Director",
    ProcessType.FISA_ORDER: "Foreign Intelligence Surveillance Court",
    ProcessType.MLAT: "U.S. District Court for the District of Columbia (18 U.S.C. 3512)",
    ProcessType.CLOUD_ACT_ORDER: {"GB": "Crown Court at Southwark",
                                  "AU": "Administrative Review Tribunal (IPO)"},
    ProcessType.EPOC: {"DE": "Amtsgericht Wiesbaden", "FR": "Tribunal judiciaire de Paris",
                       "IT": "Giudice per le indagini preliminari di Milano"},
}
JUDICIAL = {ProcessType.COURT_ORDER, ProcessType.SEARCH_WARRANT, ProcessType.FISA_ORDER, ProcessType.MLAT,
            ProcessType.CLOUD_ACT_ORDER}
NDO_STATUTES = {
    ProcessType.NSL: "18 U.S.C. 2709(c)", ProcessType.FISA_ORDER: "50 U.S.C. 1861(d)",
    ProcessType.EPOC: "Regulation (EU) 2023/1543 Art. 11",
}
UNKNOWN_IDENTIFIERS = [
    "night.owl77@mail.example", "acct-555123", "shadowfox", "k.ivanova@mail.example", "acct-900417",
    "burner-2291@mail.example", "lucas.m@mail.example", "trader_joe88", "p.schmidt@fabrikam-old.example",
]
JUSTIFICATIONS = [
    "A missing 14-year-old last used this account; police believe she is with an adult she met online.",
    "A caller threatened on a livestream to attack a school tomorrow morning; the account posted the video.",
    "Kidnapping: the kidnappers send ransom demands from this address and set a deadline of tonight.",
    "A person announced suicide in a message sent from this account an hour ago; location unknown.",
]
# Whom a reviewer reached when calling an agency back on its directory number.
CALLBACK_CONFIRMED_BY = "Sgt. Dana Miller, duty officer at the agency's operations desk"
NOTES = {
    Trigger.CHALLENGE: ["The date range covers five years for a one-week offence: overbroad.",
                        "The NDO has no end date and no finding of adverse result.",
                        "Content is sought for accounts not named in the affidavit."],
    Trigger.SEND_BACK: ["Propose subscriber data only until the agency narrows the date range.",
                        "Check the identifiers against the order once more before proposing."],
    Trigger.AGENCY_RETURNS: ["The customer did not answer within 30 days; the agency asks us again.",
                             "The customer's counsel refers the agency back to us."],
    Trigger.WITHDRAW: ["The agency withdrew the demand by e-mail.",
                       "The agency obtained the data from the customer and withdrew the demand."],
    Trigger.REJECT: ["The order names a different provider.", "The request concerns a civil dispute."],
}
GEOFENCE_REJECTION = ("A geofence warrant for every device near the scene over six hours names no "
                      "account: overbroad. Told the agency it may serve a warrant naming the accounts.")
CHANNELS = ["api", "api", "portal", "email", "email", "post", "fax", "in_person"]
