"""The front door and the staff home page."""

from flask import Blueprint, redirect, render_template
from flask_login import current_user

from models import utcnow
from views.auth import home_for
from views.policy import public, staff
from workflows import cases, reports

bp = Blueprint("home", __name__)


@bp.get("/")
@public
def root():
    """The public front door: the reports first, then where a customer who received
    a notice goes, and how an agency submits. Signed-in people go to their home."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    published = reports.all_published()
    latest = published[0] if published else None
    return render_template("front.html", latest=latest.snapshot if latest else None,
                           periods=len(published))


@bp.get("/home")
@staff
def index():
    """What waits today, for this role, each count a link to the cases it counts."""
    tallies = cases.day_of_work(current_user.role, current_user.id, utcnow())
    return render_template("home.html", role=current_user.role, tallies=tallies)
