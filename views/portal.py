"""The customer portal: a tenant's own organisation and accounts."""

from flask import Blueprint, render_template
from flask_login import current_user

from models import Role
from views.policy import allow

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.get("/")
@allow(Role.CUSTOMER)
def home():
    return render_template("portal/home.html", customer=current_user.user.customer)
