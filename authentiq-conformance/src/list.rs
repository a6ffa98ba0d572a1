// The one list of conformance cases. Every name is a `pub async fn` in `cases.rs`, and the
// order is the order of the conformance matrix. The crate generates its exports and `CASES`
// from it, `conformance_tests!` generates the adapters' tests from it, and xtask includes
// this file to read the same names. A case function missing here is not exported, which
// fails the build (`dead_code` is denied), and the `every_case_is_listed` test says which.
// This file holds nothing but the macro, so that xtask can `include!` it.

/// Calls the macro at the path in brackets with the arguments after the brackets, in
/// brackets, followed by every conformance case name in order:
/// `for_each_case!([my_macro] a b)` expands to `my_macro! { [a b] public_route, ... }`.
/// `conformance_tests!` and `CASES` are generated this way (plain names: xtask includes this
/// file too, where links to the crate would not resolve).
#[macro_export]
macro_rules! for_each_case {
    ([$($then:tt)*] $($args:tt)*) => {
        $($then)*! {
            [$($args)*]
            public_route,
            browser_without_session_is_redirected_to_login,
            api_without_session_gets_401,
            xhr_without_session_gets_401,
            optional_without_session,
            sign_in_creates_session,
            optional_with_session,
            one_session_check_per_request,
            login_redirect_carries_state_nonce_pkce,
            tampered_session_cookie,
            garbage_session_cookie_removed_once,
            expired_session_cookie,
            idle_session_cookie,
            foreign_session_cookie,
            state_mismatch,
            missing_flow_cookie,
            code_replay,
            provider_error_callback,
            provider_down_gets_503,
            required_scope_declined,
            offsite_return_to_absolute,
            offsite_return_to_protocol_relative,
            offsite_return_to_backslash,
            logout_ends_session,
            logout_from_other_origin_refused,
            backchannel_logout_ends_session,
            backchannel_logout_by_sub_only,
            backchannel_logout_refuses_each_bad_token,
            logout_ends_the_id_token_as_bearer,
            cors_preflight_not_blocked,
            missing_layer,
            customized_rejection,
            bearer_valid,
            bearer_missing,
            bearer_invalid,
            bearer_hs256_refused,
            callback_post_json,
            callback_form_post,
            callback_json_with_id_token,
            oversized_body_gets_413,
            session_cookie_responses_are_not_cached,
            bearer_header_text_cannot_break_challenge,
            hostile_state_names_no_cookie,
            forget_removes_remembered_device,
            https_cookies_are_secure_host_cookies,
            signed_scopes_need_verified_values,
            json_callback_refusals_are_400,
            start_hands_a_page_its_sign_in,
            hybrid_callback_binds_the_code,
            remembered_device_offers_one_click,
            remembering_off_and_no_consent_prompt,
            encrypted_sign_in_creates_session,
            encrypted_bearer_and_downgrade,
            encrypted_sign_in_downgrade_refused,
            client_jwks_published,
        }
    };
}
