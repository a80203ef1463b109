use chrono::{Duration, Utc};
use uuid::Uuid;

use super::*;

#[test]
fn names_are_normalised_to_lower_case_ascii() {
    assert_eq!(normalize_name("Acme.COM").unwrap(), "acme.com");
    assert_eq!(normalize_name(" acme.com. ").unwrap(), "acme.com");
    assert_eq!(
        normalize_name("Bücher.example").unwrap(),
        "xn--bcher-kva.example"
    );
    assert_eq!(
        normalize_name("xn--bcher-kva.example").unwrap(),
        "xn--bcher-kva.example"
    );
    assert_eq!(normalize_name("eu.acme.co.uk").unwrap(), "eu.acme.co.uk");
}

#[test]
fn what_cannot_be_an_orgs_domain_is_refused() {
    for bad in [
        "",
        ".",
        "localhost",
        "com",
        "*.acme.com",
        "acme.*",
        "127.0.0.1",
        "10.1.2.3",
        "::1",
        "[2001:db8::1]",
        "1.2.3",
        "acme..com",
        "-acme.com",
        "acme-.com",
        "ac_me.com",
        "acme.com/path",
        "user@acme.com",
        "acme com",
    ] {
        assert!(normalize_name(bad).is_err(), "{bad:?} accepted");
    }
    let long_label = format!("{}.com", "a".repeat(64));
    assert!(normalize_name(&long_label).is_err());
    let long_name = format!("{}.com", vec!["a".repeat(60); 5].join("."));
    assert!(normalize_name(&long_name).is_err());
}

#[test]
fn common_providers_and_their_subdomains_are_blocked() {
    let blocked = BlockList::default();
    assert_eq!(check_name("Gmail.com", &blocked), Err(NameError::Blocked));
    assert_eq!(
        check_name("mail.yahoo.com", &blocked),
        Err(NameError::Blocked)
    );
    assert_eq!(check_name("acme.com", &blocked), Ok("acme.com".into()));
    assert_eq!(
        check_name("notgmail.com", &blocked),
        Ok("notgmail.com".into())
    );
}

#[test]
fn configured_names_add_to_or_replace_the_shipped_list() {
    let added = BlockList::new(&["Example.ORG".into()], false);
    assert!(added.blocks("example.org"));
    assert!(added.blocks("gmail.com"));
    let replaced = BlockList::new(&["example.org".into()], true);
    assert!(replaced.blocks("example.org"));
    assert!(!replaced.blocks("gmail.com"));
}

#[test]
fn addresses_match_their_exact_domain_only() {
    assert!(address_matches("Ada@ACME.com", "acme.com"));
    assert!(address_matches(
        "ada@bücher.example",
        "xn--bcher-kva.example"
    ));
    assert!(!address_matches("ada@eu.acme.com", "acme.com"));
    assert!(!address_matches("ada@notacme.com", "acme.com"));
    assert!(!address_matches("acme.com", "acme.com"));
}

#[test]
fn codes_are_six_digits_and_vary() {
    let codes: Vec<String> = (0..50).map(|_| generate_code()).collect();
    assert!(codes
        .iter()
        .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert!(distinct.len() > 40);
}

#[test]
fn attempts_judge_the_code_its_expiry_and_budget() {
    let id = Uuid::now_v7();
    let now = Utc::now();
    let hash = hash_code(id, "123456");
    let live = CodeState {
        verified: false,
        code_hash: Some(&hash),
        expires_at: Some(code_expiry(now)),
        attempts: 0,
    };
    assert_eq!(attempt(&live, id, "123456", now), Attempt::Verified);
    assert_eq!(
        attempt(&live, Uuid::now_v7(), "123456", now),
        Attempt::Wrong { burned: false }
    );
    assert_eq!(
        attempt(&live, id, "654321", now),
        Attempt::Wrong { burned: false }
    );
    let last = CodeState {
        attempts: 4,
        ..live
    };
    assert_eq!(
        attempt(&last, id, "654321", now),
        Attempt::Wrong { burned: true }
    );
    let later = now + Duration::minutes(CODE_TTL_MINUTES);
    assert_eq!(attempt(&live, id, "123456", later), Attempt::Expired);
    assert_eq!(live.status(later), VerificationStatus::Expired);
    let burned = CodeState {
        attempts: 5,
        ..live
    };
    assert_eq!(attempt(&burned, id, "123456", now), Attempt::NoCode);
    assert_eq!(burned.status(now), VerificationStatus::Failed);
    let none = CodeState {
        code_hash: None,
        ..live
    };
    assert_eq!(attempt(&none, id, "123456", now), Attempt::NoCode);
    let done = CodeState {
        verified: true,
        ..live
    };
    assert_eq!(attempt(&done, id, "123456", now), Attempt::AlreadyVerified);
}

#[test]
fn a_new_code_waits_a_minute() {
    let now = Utc::now();
    assert_eq!(resend_wait(None, now), None);
    assert_eq!(resend_wait(Some(now), now), Some(60));
    assert_eq!(resend_wait(Some(now - Duration::seconds(59)), now), Some(1));
    assert_eq!(resend_wait(Some(now - Duration::seconds(60)), now), None);
}

#[test]
fn modes_round_trip() {
    for mode in [
        EnrollmentMode::ManualInvitation,
        EnrollmentMode::AutomaticInvitation,
        EnrollmentMode::AutomaticSuggestion,
    ] {
        assert_eq!(EnrollmentMode::parse(mode.as_str()), Some(mode));
    }
    assert!(!EnrollmentMode::default().is_automatic());
}
