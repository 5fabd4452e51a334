"""Flask-WTF forms: each renders and checks a CSRF token tied to the visitor's session."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Username and password; lengths match the users table and bound the hashing work."""

    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class LogoutForm(FlaskForm):
    """No fields but the token: logging out is a POST, so another site cannot trigger it."""
