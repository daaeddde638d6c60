"""The front door and the staff home page."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from views.auth import home_for
from views.policy import public, staff

bp = Blueprint("home", __name__)


@bp.get("/")
@public
def root():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.sign_in"))


@bp.get("/home")
@staff
def index():
    return render_template("home.html", role=current_user.role)
