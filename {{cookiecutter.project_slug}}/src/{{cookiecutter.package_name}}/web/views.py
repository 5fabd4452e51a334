"""The pages: catalogue and item detail for everyone, login, logout and the account page."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded
from sqlalchemy import select

from {{ cookiecutter.package_name }}.extensions import csrf, db, limiter
from {{ cookiecutter.package_name }}.models import Item, User
from {{ cookiecutter.package_name }}.services.accounts import authenticate
from {{ cookiecutter.package_name }}.services.item_cache import (
    cached_under_generation,
    store_under_generation,
)
from {{ cookiecutter.package_name }}.web.assets import StaticAssetsBlueprint
from {{ cookiecutter.package_name }}.web.errors import refuse_too_many_logins
from {{ cookiecutter.package_name }}.web.forms import LoginForm, LogoutForm

web_bp = StaticAssetsBlueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)

# The pages' own answer to the login limit (the app-wide one answers JSON).
web_bp.register_error_handler(RateLimitExceeded, refuse_too_many_logins)

ITEMS_PER_PAGE = 20
# Deeper pages would be large OFFSET scans for nobody: 200,000 items is the page cap.
MAX_PAGE = 10_000
# Pages may load styles and images from this origin, post forms only to it, and be
# framed by nobody; no scripts at all. The API's JSON keeps security.py's stricter policy.
HTML_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def login_rate_limit() -> str:
    """LOGIN_RATE_LIMIT, the API login's limit, read per request like the API reads it."""
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@web_bp.before_request
def check_csrf_token() -> None:
    """Refuse any POST to a page without the form's CSRF token (Flask-WTF, 400).

    Checked here rather than app-wide, so the bearer-token API is never asked for one.
    """
    csrf.protect()


@web_bp.after_request
def add_page_headers(response: Response) -> Response:
    """The HTML pages' own security policy (styles from 'self') and referrer rule.

    same-origin instead of the app's no-referrer: Flask-WTF checks on https that a form
    was posted from this site's own pages, which needs the Referer header on same-site
    requests; other sites still learn nothing.
    """
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = HTML_CONTENT_SECURITY_POLICY
        response.headers["Referrer-Policy"] = "same-origin"
    return response


@web_bp.get("/")
def catalogue() -> ResponseReturnValue:
    """One page of the catalogue; anonymous visitors get it from the shared cache."""
    page = request.args.get("page", 1, type=int)
    if not 1 <= page <= MAX_PAGE:
        abort(404)
    if signed_in_username() is not None:
        return render_catalogue(page)
    key = catalogue_key(page)
    cached = cached_under_generation(key)
    if cached is not None:
        return html_from_cache(cached, hit=True)
    body = render_catalogue(page).encode()
    # Stored under the items' cache generation: any item write drops every cached page.
    store_under_generation(key, body, current_app.config["CATALOGUE_CACHE_SECONDS"])
    return html_from_cache(body, hit=False)


@web_bp.get("/items/<int(min=1, max=2147483647):item_id>")
def item_detail(item_id: int) -> ResponseReturnValue:
    """One item's page."""
    item = db.session.get(Item, item_id)
    if item is None:
        abort(404)
    return render_template("web/item.html", item=item)


@web_bp.route("/login", methods=["GET", "POST"])
# The API login's limit, per client address: each attempt costs a password hash.
@limiter.limit(login_rate_limit, methods=["POST"], error_message="Too many login attempts")
def login() -> ResponseReturnValue:
    """The login form; a valid login starts a new session and goes to the account page."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "")
        if user is not None:
            start_session(user)
            return redirect(url_for("web.account"), code=303)
        form.form_errors.append("Invalid username or password.")
    return render_template("web/login.html", form=form)


@web_bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session (deleted from the store, cookie removed) and go to the catalogue."""
    session.clear()
    return redirect(url_for("web.catalogue"), code=303)


@web_bp.get("/account")
def account() -> ResponseReturnValue:
    """The signed-in user's page; without a session, the login form."""
    user_id = session.get("user_id")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        session.clear()
        return redirect(url_for("web.login"), code=303)
    response = Response(render_template("web/account.html", user=user), mimetype="text/html")
    # Personal: never kept by a shared cache or in the browser's history cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@web_bp.app_context_processor
def page_context() -> dict[str, object]:
    """What every page's layout shows: who is signed in, and the logout form for them."""
    username = signed_in_username()
    return {"username": username, "logout_form": LogoutForm() if username else None}


def signed_in_username() -> str | None:
    """The username of this session's user, or None for an anonymous visitor."""
    username = session.get("username")
    return username if isinstance(username, str) else None


def start_session(user: User) -> None:
    """Forget the anonymous session and start one for `user` under a new session id.

    A new id means an id planted in the browser before the login (session fixation) is
    worth nothing after it.
    """
    session.clear()
    session["user_id"] = user.id
    session["username"] = user.username
    session.permanent = True
    regenerate = getattr(current_app.session_interface, "regenerate", None)
    if regenerate is not None:
        regenerate(session)


def render_catalogue(page: int) -> str:
    """The catalogue page's HTML: items ordered by id, with links to the other pages."""
    pagination = db.paginate(
        select(Item).order_by(Item.id), page=page, per_page=ITEMS_PER_PAGE, error_out=False
    )
    return render_template("web/catalogue.html", pagination=pagination, page=page)


def catalogue_key(page: int) -> str:
    """Cache key of one anonymous catalogue page."""
    return f"pages:catalogue?page={page}"


def html_from_cache(body: bytes, *, hit: bool) -> Response:
    """An HTML response marked with the cache outcome (X-Cache, Server-Timing)."""
    g.cache_status = "hit" if hit else "miss"
    response = Response(body, mimetype="text/html")
    response.headers["X-Cache"] = "HIT" if hit else "MISS"
    return response
