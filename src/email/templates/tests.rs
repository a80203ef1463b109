use super::*;

fn invitation(org: &str) -> EmailMessage {
    EmailMessage::Invitation {
        org_name: org.into(),
        accept_url: "https://app.example/join?a=1&invitation_token=tok".into(),
        inviter_name: Some("Alice".into()),
        role_name: "org:member".into(),
        expires_at: Some("2030-01-02T03:04:05Z".parse().unwrap()),
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn built_ins_render_in_each_locale_with_fallbacks() {
    let templates = Templates::load(None).unwrap();
    let en = templates
        .render(&invitation("Acme"), "b@x.com", None)
        .unwrap();
    assert_eq!(en.subject, "Alice invited you to join Acme");
    assert!(en
        .text
        .contains("https://app.example/join?a=1&invitation_token=tok"));
    assert!(en.text.contains("2030-01-02"));
    // The HTML body escapes the URL's `&` as HTML must.
    assert!(
        en.html.contains("a=1&amp;invitation_token=tok"),
        "{}",
        en.html
    );
    let de = templates
        .render(&invitation("Acme"), "b@x.com", Some("de-AT"))
        .unwrap();
    assert!(de.subject.contains("lädt Sie ein"), "{}", de.subject);
    let fr = templates
        .render(&invitation("Acme"), "b@x.com", Some("fr-CA"))
        .unwrap();
    assert!(fr.subject.contains("vous invite"), "{}", fr.subject);
    let other = templates
        .render(&invitation("Acme"), "b@x.com", Some("ja"))
        .unwrap();
    assert_eq!(other.subject, en.subject);
    let code = EmailMessage::DomainVerificationCode {
        org_name: "Acme".into(),
        domain: "acme.com".into(),
        code: "123456".into(),
        expires_in_minutes: 10,
    };
    let sent = templates.render(&code, "b@acme.com", None).unwrap();
    assert_eq!(sent.subject, "Verify acme.com for Acme");
    assert!(sent.text.contains("123456") && sent.html.contains("123456"));
}

#[test]
fn html_escapes_values() {
    let templates = Templates::load(None).unwrap();
    let sent = templates
        .render(&invitation("<script>x</script>"), "b@x.com", None)
        .unwrap();
    assert!(!sent.html.contains("<script>"));
    assert!(sent.html.contains("&lt;script&gt;"));
    assert!(sent.text.contains("<script>x</script>"));
}

#[test]
fn overrides_win_per_locale_and_part() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "invitation/en/subject.txt",
        "Join {{ org_name }} now",
    );
    write(
        dir.path(),
        "invitation/fr-CA/body.txt",
        "Québec: {{ accept_url }}",
    );
    let templates = Templates::load(Some(dir.path())).unwrap();
    let en = templates
        .render(&invitation("Acme"), "b@x.com", None)
        .unwrap();
    assert_eq!(en.subject, "Join Acme now");
    assert!(
        en.html.contains("Accept the invitation"),
        "built-in HTML kept"
    );
    let ca = templates
        .render(&invitation("Acme"), "b@x.com", Some("fr-CA"))
        .unwrap();
    assert!(ca.text.starts_with("Québec: https://"));
    assert!(ca.subject.contains("vous invite"), "built-in fr subject");
}

#[test]
fn bad_overrides_fail_at_load() {
    let cases = [
        ("invitation/en/subject.txt", "{% if %}"),
        ("invitation/en/body.txt", "{{ no_such_variable }}"),
        ("invitation/en/body.txt", "{{ org_name | no_such_filter }}"),
        ("invitation/en/subject", "x"),
        ("invitations/en/subject.txt", "x"),
        ("invitation/english/subject.txt", "x"),
        ("invitation/fr-ca/subject.txt", "x"),
    ];
    for (name, text) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), name, text);
        let err = Templates::load(Some(dir.path())).err();
        assert!(err.is_some(), "{name}: {text}");
    }
    let missing = Templates::load(Some(Path::new("/no/such/dir"))).err();
    assert!(format!("{missing:?}").contains("POLIS_EMAIL_TEMPLATES_DIR"));
}
