//! Accounts: sign-up, email verification, sign-in and out, password reset,
//! profile and language; for staff, the user list with block/unblock and
//! (admins) the manager role.

use askama::Template;
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::web::{Data, Form, Path, Query};
use poem::{IntoResponse, Request, handler};
use skymailing_core::policy::{Action, Target};
use skymailing_core::{Error, Role, User, UserId, UserState};

use crate::Service;
use crate::ratelimit::{Limited, client_ip};
use crate::web::error::PageResult;
use crate::web::i18n::{LANG_COOKIE, Lang};
use crate::web::session::session_cookie;
use crate::web::view::{
    Chrome, FormState, ListParams, NoticePage, Viewer, local_path, pager, render, see_other,
};

fn notice(viewer: &Viewer, title: &str, text: &str, link: Option<(&str, &str)>) -> poem::Response {
    render(&NoticePage {
        c: viewer.chrome(),
        title: viewer.t(title),
        text: viewer.t(text),
        link: link.map(|(href, label)| (href.to_owned(), viewer.t(label))),
    })
}

fn too_many(viewer: &Viewer) -> poem::Response {
    notice(viewer, "error.too_many", "error.too_many_text", None)
        .with_status(poem::http::StatusCode::TOO_MANY_REQUESTS)
        .into_response()
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUp {
    c: Chrome,
    f: FormState,
    name: String,
    email: String,
    time_zone: String,
    zones: &'static [&'static str],
    /// Whether the browser's zone may replace the one shown (a fresh form).
    detect: bool,
}

/// Every IANA zone, for the pickers (listed once per process).
pub(crate) fn zones() -> &'static [&'static str] {
    static ZONES: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(skymailing_core::TimeZone::names);
    &ZONES
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct SignUpForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    time_zone: String,
}

#[handler]
pub(crate) async fn signup_form(viewer: Data<&Viewer>) -> PageResult {
    Ok(render(&SignUp {
        c: viewer.chrome(),
        f: FormState::default(),
        name: String::new(),
        email: String::new(),
        time_zone: "UTC".into(),
        zones: zones(),
        detect: true,
    }))
}

#[handler]
pub(crate) async fn signup(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    req: &Request,
    Form(form): Form<SignUpForm>,
) -> PageResult {
    if service
        .limiters
        .check(Limited::Register, client_ip(req), Some(&form.email))
        .await
        .is_err()
    {
        return Ok(too_many(&viewer));
    }
    match service
        .app
        .accounts
        .register_in(
            &form.email,
            &form.password,
            &form.name,
            Some(&form.time_zone),
            Some(viewer.lang.code()),
        )
        .await
    {
        Ok(()) => Ok(notice(
            &viewer,
            "signup.done_title",
            if viewer.outbox {
                "signup.done_outbox"
            } else {
                "signup.done_text"
            },
            viewer.outbox.then_some(("/outbox", "nav.outbox")),
        )),
        Err(e) => Ok(render(&SignUp {
            c: viewer.chrome(),
            f: FormState::from_error(viewer.lang, e)?,
            name: form.name,
            email: form.email,
            time_zone: form.time_zone,
            zones: zones(),
            detect: false,
        })),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenParams {
    #[serde(default)]
    token: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct Verify {
    c: Chrome,
    token: String,
}

/// The link of the verification email: a page with a button, since opening a
/// link (a mail scanner does) must not be what changes the account.
#[handler]
pub(crate) async fn verify_form(viewer: Data<&Viewer>, Query(p): Query<TokenParams>) -> PageResult {
    Ok(render(&Verify {
        c: viewer.chrome(),
        token: p.token,
    }))
}

#[handler]
pub(crate) async fn verify(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Form(p): Form<TokenParams>,
) -> PageResult {
    match service.app.accounts.verify_email(&p.token).await {
        Ok(_) => Ok(notice(
            &viewer,
            "verify.done_title",
            "verify.done_text",
            Some(("/signin", "nav.signin")),
        )),
        Err(Error::InvalidToken) => {
            Ok(notice(&viewer, "verify.bad_title", "verify.bad_text", None)
                .with_status(poem::http::StatusCode::BAD_REQUEST)
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn {
    c: Chrome,
    f: FormState,
    email: String,
    next: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct NextParam {
    #[serde(default)]
    next: String,
}

#[handler]
pub(crate) async fn signin_form(viewer: Data<&Viewer>, Query(p): Query<NextParam>) -> PageResult {
    Ok(render(&SignIn {
        c: viewer.chrome(),
        f: FormState::default(),
        email: String::new(),
        next: local_path(&p.next),
    }))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[handler]
pub(crate) async fn signin(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    jar: &CookieJar,
    req: &Request,
    Form(form): Form<SignInForm>,
) -> PageResult {
    if service
        .limiters
        .check(Limited::Login, client_ip(req), Some(&form.email))
        .await
        .is_err()
    {
        return Ok(too_many(&viewer));
    }
    let key = match service
        .app
        .accounts
        .login(&form.email, &form.password)
        .await
    {
        Ok(session) => {
            jar.add(session_cookie(&service, &session.token));
            // Where they were sent from, or their dashboard.
            let next = if form.next.trim().is_empty() || form.next == "/" {
                "/dashboard".to_owned()
            } else {
                local_path(&form.next)
            };
            return Ok(see_other(&next));
        }
        Err(Error::InvalidCredentials) => "signin.wrong",
        Err(Error::AccountBlocked) => "signin.blocked",
        Err(Error::NotVerified) => "signin.not_verified",
        Err(e) => return Err(e.into()),
    };
    Ok(render(&SignIn {
        c: viewer.chrome(),
        f: FormState::general(viewer.t(key)),
        email: form.email,
        next: local_path(&form.next),
    })
    .with_status(poem::http::StatusCode::UNAUTHORIZED)
    .into_response())
}

#[handler]
pub(crate) async fn signout(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    jar: &CookieJar,
) -> PageResult {
    if let Some(t) = &viewer.token {
        service.app.accounts.logout(t).await?;
    }
    let mut gone = session_cookie(&service, "");
    gone.set_max_age(std::time::Duration::ZERO);
    jar.add(gone);
    Ok(see_other("/"))
}

#[derive(Template)]
#[template(path = "reset_request.html")]
struct ResetRequest {
    c: Chrome,
    f: FormState,
    email: String,
}

#[handler]
pub(crate) async fn reset_form(viewer: Data<&Viewer>) -> PageResult {
    Ok(render(&ResetRequest {
        c: viewer.chrome(),
        f: FormState::default(),
        email: String::new(),
    }))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct EmailForm {
    #[serde(default)]
    email: String,
}

#[handler]
pub(crate) async fn reset_request(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    req: &Request,
    Form(form): Form<EmailForm>,
) -> PageResult {
    if service
        .limiters
        .check(Limited::Reset, client_ip(req), Some(&form.email))
        .await
        .is_err()
    {
        return Ok(too_many(&viewer));
    }
    match service
        .app
        .accounts
        .request_password_reset(&form.email)
        .await
    {
        Ok(()) => Ok(notice(&viewer, "reset.sent_title", "reset.sent_text", None)),
        Err(e) => Ok(render(&ResetRequest {
            c: viewer.chrome(),
            f: FormState::from_error(viewer.lang, e)?,
            email: form.email,
        })),
    }
}

#[derive(Template)]
#[template(path = "reset_confirm.html")]
struct ResetConfirm {
    c: Chrome,
    f: FormState,
    token: String,
}

#[handler]
pub(crate) async fn reset_confirm_form(
    viewer: Data<&Viewer>,
    Query(p): Query<TokenParams>,
) -> PageResult {
    Ok(render(&ResetConfirm {
        c: viewer.chrome(),
        f: FormState::default(),
        token: p.token,
    }))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ResetConfirmForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

#[handler]
pub(crate) async fn reset_confirm(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    req: &Request,
    Form(form): Form<ResetConfirmForm>,
) -> PageResult {
    if service
        .limiters
        .check(Limited::Reset, client_ip(req), None)
        .await
        .is_err()
    {
        return Ok(too_many(&viewer));
    }
    let f = match service
        .app
        .accounts
        .complete_password_reset(&form.token, &form.password)
        .await
    {
        Ok(_) => {
            return Ok(notice(
                &viewer,
                "reset.done_title",
                "reset.done_text",
                Some(("/signin", "nav.signin")),
            ));
        }
        Err(Error::InvalidToken) => FormState::general(viewer.t("verify.bad_text")),
        Err(Error::AccountBlocked) => FormState::general(viewer.t("signin.blocked")),
        Err(e) => FormState::from_error(viewer.lang, e)?,
    };
    Ok(render(&ResetConfirm {
        c: viewer.chrome(),
        f,
        token: form.token,
    }))
}

#[derive(Template)]
#[template(path = "profile.html")]
struct Profile {
    c: Chrome,
    f: FormState,
    pf: FormState,
    email: String,
    role: String,
    v: ProfileForm,
    zones: &'static [&'static str],
    /// What an empty sender name and Reply-To stand for.
    own_name: String,
    own_email: String,
}

fn profile_page(
    viewer: &Viewer,
    f: FormState,
    pf: FormState,
    typed: Option<ProfileForm>,
) -> PageResult {
    let user = viewer.user.clone().ok_or(Error::Unauthenticated)?;
    let v = typed.unwrap_or_else(|| ProfileForm {
        name: user.name.to_string(),
        time_zone: user.time_zone.to_string(),
        language: user
            .language
            .as_ref()
            .map(|l| l.to_string())
            .unwrap_or_default(),
        sender_name: user
            .sender
            .name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default(),
        reply_to: user
            .sender
            .reply_to
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default(),
    });
    Ok(render(&Profile {
        c: viewer.chrome(),
        f,
        pf,
        email: user.email.to_string(),
        role: viewer.t(&format!("role.{}", user.role.as_str())),
        v,
        zones: zones(),
        own_name: user.name.to_string(),
        own_email: user.email.to_string(),
    }))
}

#[handler]
pub(crate) async fn profile(viewer: Data<&Viewer>) -> PageResult {
    profile_page(&viewer, FormState::default(), FormState::default(), None)
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    sender_name: String,
    #[serde(default)]
    reply_to: String,
}

#[handler]
pub(crate) async fn update_profile(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Form(form): Form<ProfileForm>,
) -> PageResult {
    let edit = skymailing_core::service::ProfileEdit {
        name: form.name.clone(),
        time_zone: form.time_zone.clone(),
        language: Some(form.language.clone()),
        sender_name: Some(form.sender_name.clone()),
        reply_to: Some(form.reply_to.clone()),
    };
    match service.app.accounts.edit_profile(viewer.actor, &edit).await {
        Ok(_) => Ok(see_other("/profile")),
        Err(e) => profile_page(
            &viewer,
            FormState::from_error(viewer.lang, e)?,
            FormState::default(),
            Some(form),
        ),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

#[handler]
pub(crate) async fn change_password(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    req: &Request,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    // Checking the current password is a guess like a sign-in: same limits.
    let email = viewer.user.as_ref().map(|u| u.email.to_string());
    if service
        .limiters
        .check(Limited::Login, client_ip(req), email.as_deref())
        .await
        .is_err()
    {
        return Ok(too_many(&viewer));
    }
    match service
        .app
        .accounts
        .change_password(
            viewer.actor,
            &form.current_password,
            &form.new_password,
            viewer.token.as_deref(),
        )
        .await
    {
        Ok(()) => Ok(notice(
            &viewer,
            "profile.changed_title",
            "profile.changed_text",
            Some(("/profile", "profile.title")),
        )),
        Err(e) => profile_page(
            &viewer,
            FormState::default(),
            FormState::from_error(viewer.lang, e)?,
            None,
        ),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct LangForm {
    lang: String,
    #[serde(default)]
    next: String,
}

#[handler]
pub(crate) async fn set_lang(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    jar: &CookieJar,
    Form(form): Form<LangForm>,
) -> PageResult {
    let lang = Lang::parse(&form.lang).unwrap_or(Lang::En);
    // A signed-in user's choice is their setting, on every browser.
    if viewer.user.is_some() {
        service
            .app
            .accounts
            .set_language(viewer.actor, lang.code())
            .await?;
    }
    let mut c = Cookie::new_with_str(LANG_COOKIE, lang.code());
    c.set_path("/");
    c.set_same_site(SameSite::Lax);
    c.set_http_only(true);
    c.set_secure(service.settings.base_url.starts_with("https://"));
    c.set_max_age(std::time::Duration::from_secs(365 * 24 * 3600));
    jar.add(c);
    Ok(see_other(&local_path(&form.next)))
}

pub(crate) struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role_label: String,
    pub state_label: String,
    pub state: &'static str,
    pub blocked: bool,
    pub is_manager: bool,
    pub can_block: bool,
    pub can_promote: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct Users {
    c: Chrome,
    users: Vec<UserRow>,
    q: String,
    pager: String,
}

#[handler]
pub(crate) async fn users(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Query(params): Query<ListParams>,
) -> PageResult {
    let page = service
        .app
        .accounts
        .list_users(viewer.actor, &params.query(25)?)
        .await?;
    let c = viewer.chrome();
    let row = |u: User| {
        // The buttons follow the permission table; the use cases decide anyway.
        let target = Target::Account(u.id, u.role);
        UserRow {
            id: u.id.0,
            email: u.email.to_string(),
            name: u.name.to_string(),
            role_label: viewer.t(&format!("role.{}", u.role.as_str())),
            state_label: viewer.t(&format!("state.{}", u.state.as_str())),
            state: u.state.as_str(),
            blocked: u.state == UserState::Blocked,
            is_manager: u.role == Role::Manager,
            can_block: c.may(Action::BlockUser, target),
            // The table refuses anyone a change of an admin's role.
            can_promote: c.may(Action::ChangeRole, target),
        }
    };
    let pager = pager(viewer.lang, &page, &params);
    Ok(render(&Users {
        c: viewer.chrome(),
        users: page.items.into_iter().map(row).collect(),
        q: params.q(),
        pager,
    }))
}

#[handler]
pub(crate) async fn block(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service.app.accounts.block(viewer.actor, UserId(id)).await?;
    Ok(see_other("/users"))
}

#[handler]
pub(crate) async fn unblock(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
) -> PageResult {
    service
        .app
        .accounts
        .unblock(viewer.actor, UserId(id))
        .await?;
    Ok(see_other("/users"))
}

#[derive(serde::Deserialize)]
pub(crate) struct RoleForm {
    role: String,
}

#[handler]
pub(crate) async fn set_role(
    service: Data<&Service>,
    viewer: Data<&Viewer>,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> PageResult {
    let role = Role::parse(&form.role)?;
    service
        .app
        .accounts
        .set_role(viewer.actor, UserId(id), role)
        .await?;
    Ok(see_other("/users"))
}
