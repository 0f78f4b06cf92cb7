//! Every endpoint, in one screen. Handlers are small functions grouped by resource that
//! parse the request, call one use-case of `gongyou-services` and shape the answer; each
//! carries its OpenAPI description, and registering it here also puts it in openapi.yaml.
//! No route module imports another: what they share (views, rules) is the services'.

pub mod auth;
pub mod campaigns;
pub mod claims;
pub mod jobs;
pub mod me;
pub mod membership;
pub mod notifications;
pub mod ops;
pub mod orgs;
pub mod payouts;
pub mod plans;
pub mod reconcile;
pub mod staff;
pub mod stations;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

/// Routes served on the main address.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::openapi_yaml);
    // `/metrics` is added by startup: on the main address, or on GONGYOU_METRICS_ADDR.
    cfg.service(
        scope::scope("/api/v1")
            // The public station searches first: the router tries resources in order (a
            // regular expression each for those with parameters), and these are the busiest
            // paths; `nearby` must also come before `/stations/{id}`.
            .service(stations::search::nearby)
            .service(stations::search::within_box)
            // Auth
            .service(auth::send_sms_code)
            .service(auth::sign_in_sms)
            .service(auth::sign_in_wechat)
            .service(auth::sign_in_password)
            .service(auth::refresh)
            .service(auth::sign_out)
            .service(auth::step_up)
            .service(me::get_me)
            .service(me::bind_phone_wechat)
            .service(me::put_contact_phone)
            .service(me::verify_contact_phone)
            .service(me::delete_contact_phone)
            // Orgs and staff
            .service(orgs::list_orgs)
            .service(orgs::create_org)
            .service(orgs::get_org)
            .service(orgs::update_org)
            .service(staff::list_staff)
            .service(staff::staff_names)
            .service(staff::create_staff)
            .service(staff::update_staff)
            // Membership
            .service(membership::member::apply)
            .service(membership::member::get_application)
            .service(membership::member::my_membership)
            .service(membership::member::my_card)
            .service(membership::member::verify_card)
            .service(membership::member::request_transfer)
            .service(membership::member::withdraw)
            .service(membership::member::withdraw_application)
            .service(membership::member::close_account)
            .service(membership::member::data_export)
            .service(membership::admin::list_applications)
            .service(membership::admin::approve_application)
            .service(membership::admin::reject_application)
            .service(membership::admin::list_transfers)
            .service(membership::admin::approve_transfer)
            .service(membership::admin::reject_transfer)
            .service(membership::admin::search_members)
            .service(membership::admin::get_member)
            .service(membership::admin::suspend)
            .service(membership::admin::reinstate)
            .service(membership::admin::read_identity)
            .service(membership::admin::get_settings)
            .service(membership::admin::put_settings)
            // Protection plans
            .service(plans::list_plans)
            .service(plans::get_plan)
            .service(plans::eligibility)
            .service(plans::enroll)
            .service(plans::my_enrollments)
            .service(plans::protection)
            .service(plans::create_plan)
            .service(plans::admin_plans)
            .service(plans::admin_plan)
            .service(plans::edit_plan)
            .service(plans::publish_plan)
            .service(plans::close_plan)
            .service(plans::new_version)
            .service(plans::import_roster)
            .service(plans::roster_imports)
            .service(plans::roster_import)
            .service(plans::roster_errors)
            .service(claims::create_claim)
            .service(claims::my_claims)
            .service(claims::review_queue)
            .service(claims::get_claim)
            .service(claims::edit_claim)
            .service(claims::submit_claim)
            .service(claims::resubmit_claim)
            .service(claims::withdraw_claim)
            .service(claims::claim_events)
            .service(claims::upload_claim_document)
            .service(claims::get_claim_document)
            .service(claims::delete_claim_document)
            .service(claims::assign_claim)
            .service(claims::return_claim)
            .service(claims::approve_claim)
            .service(claims::reject_claim)
            .service(claims::confirm_claim)
            .service(claims::get_claim_settings)
            .service(claims::put_claim_settings)
            // Payouts
            .service(payouts::list_payouts)
            .service(payouts::get_payout)
            .service(payouts::payout_events)
            .service(payouts::retry_payout)
            .service(payouts::cancel_payout)
            .service(payouts::switch_payee)
            .service(payouts::request_payee)
            .service(payouts::decide_payee_request)
            .service(payouts::create_batch)
            .service(payouts::list_batches)
            .service(payouts::get_batch)
            .service(payouts::approve_batch)
            .service(payouts::bank_file)
            .service(payouts::bank_results)
            .service(payouts::get_payout_settings)
            .service(payouts::put_payout_settings)
            .service(payouts::my_payouts)
            .service(payouts::wechatpay_webhook)
            .service(reconcile::upload_statement)
            .service(reconcile::list_runs)
            .service(reconcile::get_run)
            .service(reconcile::rerun)
            .service(reconcile::list_items)
            .service(reconcile::resolve_item)
            .service(reconcile::exceptions_csv)
            // Notifications
            .service(notifications::inbox)
            .service(notifications::unread_count)
            .service(notifications::read)
            .service(notifications::read_all)
            .service(notifications::put_device)
            .service(notifications::get_preferences)
            .service(notifications::put_preferences)
            .service(notifications::wechat_subscriptions)
            .service(campaigns::list)
            .service(campaigns::create)
            .service(campaigns::get)
            // Stations (the public searches are first in the scope)
            .service(stations::create_station)
            .service(stations::get_station)
            .service(stations::my_stations)
            .service(stations::update_station)
            .service(stations::move_station)
            .service(stations::rotate_code)
            .service(stations::put_managers)
            .service(stations::upload_photo)
            .service(stations::get_photo)
            .service(stations::visits::check_in)
            .service(stations::visits::stats)
            .service(stations::visits::report)
            .service(stations::visits::list_reports)
            .service(stations::visits::resolve_report)
            // Jobs
            .service(jobs::list_jobs)
            .service(jobs::retry_job),
    );
}
