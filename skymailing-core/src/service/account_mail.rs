//! The texts of the account emails (verification, password reset, "already
//! registered"), in the recipient's language: English, or Russian for
//! accounts whose language is Russian. Other languages get English.

use crate::Language;

/// A subject and a plain-text body.
pub(crate) struct Mail {
    pub subject: String,
    pub text: String,
}

fn russian(language: Option<&Language>) -> bool {
    language.is_some_and(|l| l.as_str() == "ru")
}

/// The verification email of a new account.
pub(crate) fn verification(
    language: Option<&Language>,
    service: &str,
    name: &str,
    link: &str,
    hours: i64,
) -> Mail {
    if russian(language) {
        Mail {
            subject: format!("Подтвердите аккаунт {service}"),
            text: format!(
                "Здравствуйте, {name}! Добро пожаловать в {service}.\n\n\
                 Чтобы активировать аккаунт, подтвердите адрес:\n{link}\n\n\
                 Ссылка действует один раз в течение {hours} ч.\n"
            ),
        }
    } else {
        Mail {
            subject: format!("Confirm your {service} account"),
            text: format!(
                "Welcome to {service}, {name}!\n\nConfirm your email address to activate your account:\n{link}\n\n\
                 The link works once, for {hours} hours.\n"
            ),
        }
    }
}

/// The notice sent instead when someone registers an address that has an account.
pub(crate) fn already_registered(language: Option<&Language>, service: &str, reset: &str) -> Mail {
    if russian(language) {
        Mail {
            subject: format!("Ваш аккаунт {service}"),
            text: format!(
                "Кто-то (возможно, вы) пытался зарегистрировать в {service} аккаунт на этот адрес, \
                 но он уже зарегистрирован.\n\nЕсли вы забыли пароль, сбросьте его здесь: {reset}\n\n\
                 Если это были не вы, просто не отвечайте на это письмо.\n"
            ),
        }
    } else {
        Mail {
            subject: format!("Your {service} account"),
            text: format!(
                "Someone (perhaps you) tried to register a {service} account with this address, which already has one.\n\n\
                 If you forgot your password, reset it here: {reset}\n\nIf it was not you, ignore this email.\n"
            ),
        }
    }
}

/// The password-reset email.
pub(crate) fn password_reset(
    language: Option<&Language>,
    service: &str,
    link: &str,
    minutes: i64,
) -> Mail {
    if russian(language) {
        Mail {
            subject: format!("Сброс пароля {service}"),
            text: format!(
                "Кто-то запросил сброс пароля вашего аккаунта {service}.\n\nЗадайте новый пароль здесь:\n{link}\n\n\
                 Ссылка действует один раз в течение {minutes} мин. Если это были не вы, просто не отвечайте на это письмо.\n"
            ),
        }
    } else {
        Mail {
            subject: format!("Reset your {service} password"),
            text: format!(
                "Someone asked to reset the password of your {service} account.\n\nChoose a new password here:\n{link}\n\n\
                 The link works once, for {minutes} minutes. If it was not you, ignore this email.\n"
            ),
        }
    }
}
