"""A demo emergency request that the call-back found forged: it arrived by e-mail
from an address made to look like the FBI's, and the duty desk reached on the
field office's directory number had never heard of it. It is rejected as
verification failed; the drawn emergencies that were answered were each
confirmed by a call-back first (demo.cases)."""

from datetime import datetime, timedelta

from demo.plans import Plan, written_plan
from models import Agency, Category, ProcessType, Role
from workflows.cases import Trigger

R = Role.REVIEWER
DAYS_AGO = 6
FORGED = ("A child was abducted this morning and the abductor writes to the family from this account. Send "
          "the data at once to special.agent.ross@gmail.example.")


def plans(now: datetime, agencies: list[Agency], known: list[str]) -> list[Plan]:
    agency = next((a for a in agencies if a.country == "US" and a.phone), None)
    if agency is None or not known:
        return []
    plan = written_plan(
        agency, ProcessType.EMERGENCY, now - timedelta(days=DAYS_AGO), [known[len(known) // 2]],
        [(Trigger.START_REVIEW, R, 0.01, None), (Trigger.REJECT, R, 0.03, "verification_failed")],
        categories=[Category.SUBSCRIBER.value, Category.NON_CONTENT.value],
        body_fields={"request_type": "emergency", "emergency_justification": FORGED},
        judicial=False, signed=False, issued_on=None, case_number="")
    plan.steps[1].callback = ("failed", "Supervisory Special Agent Lee, the field office's duty supervisor",
                              "No agent named Ross works in Seattle and the office sent no such request; the "
                              "sender's address is not the FBI's.")
    plan.document = False
    return [plan]
