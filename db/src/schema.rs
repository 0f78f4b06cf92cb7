//! diesel table definitions shared by both backends (only types both support: BIGINT,
//! INTEGER, TEXT, BOOLEAN, naive UTC TIMESTAMP). Kept by hand beside the migrations; the
//! schema-parity test checks that both backends' migrations produce the same tables.

diesel::table! {
    idempotency_keys (caller, idem_key) {
        caller -> Text,
        idem_key -> Text,
        request_hash -> Text,
        state -> Text,
        response_status -> Nullable<Integer>,
        response_headers -> Nullable<Text>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        locked_until -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    orgs (id) {
        id -> Text,
        parent_id -> Nullable<Text>,
        path -> Text,
        name -> Text,
        org_type -> Text,
        region_code -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        phone -> Nullable<Text>,
        wechat_openid -> Nullable<Text>,
        wechat_unionid -> Nullable<Text>,
        status -> Text,
        merged_into -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    staff (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        org_id -> Text,
        status -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        contact_phone_enc -> Nullable<Text>,
        contact_phone_masked -> Nullable<Text>,
        contact_phone_verified_at -> Nullable<Timestamp>,
        contact_phone_pending_enc -> Nullable<Text>,
        contact_phone_pending_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    role_grants (staff_id, role, org_id) {
        staff_id -> Text,
        role -> Text,
        org_id -> Text,
        granted_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        subject_kind -> Text,
        subject_id -> Text,
        method -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    membership_applications (id) {
        id -> Text,
        user_id -> Text,
        org_id -> Text,
        status -> Text,
        identity_conflict -> Bool,
        real_name -> Text,
        id_number_enc -> Text,
        id_number_key_id -> Text,
        id_number_index -> Text,
        birth_date -> Text,
        sex -> Text,
        occupation -> Text,
        platform -> Text,
        platform_worker_id -> Text,
        region_code -> Text,
        phone -> Text,
        consent_pi_at -> Timestamp,
        consent_sensitive_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_reason -> Nullable<Text>,
        membership_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        platform_started_on -> Nullable<Text>,
    }
}

diesel::table! {
    memberships (id) {
        id -> Text,
        user_id -> Text,
        org_id -> Text,
        application_id -> Text,
        card_number -> Text,
        status -> Text,
        joined_on -> Text,
        real_name -> Text,
        id_number_enc -> Text,
        id_number_key_id -> Text,
        id_number_index -> Text,
        birth_date -> Text,
        sex -> Text,
        occupation -> Text,
        platform -> Text,
        platform_worker_id -> Text,
        region_code -> Text,
        ended_at -> Nullable<Timestamp>,
        anonymized_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        platform_started_on -> Nullable<Text>,
    }
}

diesel::table! {
    membership_events (id) {
        id -> Text,
        membership_id -> Nullable<Text>,
        application_id -> Nullable<Text>,
        kind -> Text,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    membership_transfers (id) {
        id -> Text,
        membership_id -> Text,
        from_org_id -> Text,
        to_org_id -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    card_sequences (region_code) {
        region_code -> Text,
        last_value -> BigInt,
    }
}

diesel::table! {
    membership_routes (id) {
        id -> Text,
        region_code -> Text,
        occupation -> Text,
        org_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    org_membership_settings (org_id) {
        org_id -> Text,
        auto_approve -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    pii_access_log (id) {
        id -> Text,
        staff_id -> Text,
        subject_kind -> Text,
        subject_id -> Text,
        purpose -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        name -> Text,
        queue -> Text,
        priority -> Integer,
        dedup_key -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    data_key_rotation_progress (key_id, target) {
        key_id -> Text,
        target -> Text,
        last_key -> Text,
        done -> Bool,
        reencrypted -> BigInt,
        reindexed -> BigInt,
        failed -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    periodic_runs (name, period_start) {
        name -> Text,
        period_start -> Timestamp,
        job_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        user_id -> Text,
        category -> Text,
        title -> Text,
        body -> Text,
        data -> Text,
        read_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_deliveries (id) {
        id -> Text,
        notification_id -> Text,
        user_id -> Text,
        channel -> Text,
        status -> Text,
        attempts -> Integer,
        resends -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        provider_ref -> Nullable<Text>,
        provider_response -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    wechat_subscription_credits (user_id, template_id) {
        user_id -> Text,
        template_id -> Text,
        credits -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Text,
        org_id -> Text,
        occupation -> Nullable<Text>,
        title -> Text,
        body -> Text,
        status -> Text,
        recipients -> BigInt,
        cursor -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        category -> Text,
    }
}

diesel::table! {
    devices (user_id, registration_id) {
        user_id -> Text,
        registration_id -> Text,
        platform -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_preferences (user_id, category, channel) {
        user_id -> Text,
        category -> Text,
        channel -> Text,
        enabled -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaign_push_batches (campaign_id, first_notification_id) {
        campaign_id -> Text,
        first_notification_id -> Text,
        last_notification_id -> Text,
        recipients -> BigInt,
        addressed -> BigInt,
        status -> Text,
        attempts -> Integer,
        resends -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        requests -> Nullable<Text>,
        provider_response -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaign_subscribe_batches (campaign_id, first_notification_id) {
        campaign_id -> Text,
        first_notification_id -> Text,
        last_notification_id -> Text,
        template_id -> Text,
        status -> Text,
        recipients -> Integer,
        progress -> Integer,
        sent -> Integer,
        skipped -> Integer,
        retried -> Integer,
        dead -> Integer,
        attempts -> Integer,
        takeovers -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        frozen -> Nullable<Text>,
        provider_response -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    jpush_cids (cid) {
        cid -> Text,
        fetched_at -> Timestamp,
    }
}

diesel::table! {
    stations (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        name -> Text,
        address -> Text,
        region_code -> Text,
        lat -> Double,
        lng -> Double,
        amenities -> Text,
        hours -> Text,
        status -> Text,
        reopens_at -> Nullable<Timestamp>,
        notice -> Nullable<Text>,
        contact_phone -> Nullable<Text>,
        capacity -> Nullable<Integer>,
        version -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        code_epoch -> Integer,
    }
}

diesel::table! {
    station_managers (station_id, staff_id) {
        station_id -> Text,
        staff_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    station_locations (id) {
        id -> Text,
        station_id -> Text,
        lat -> Double,
        lng -> Double,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    station_photos (id) {
        id -> Text,
        station_id -> Text,
        object_key -> Text,
        content_type -> Text,
        bytes -> BigInt,
        uploaded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    station_visits (id) {
        id -> Text,
        station_id -> Text,
        visitor -> Text,
        source -> Text,
        visited_at -> Timestamp,
        visited_on -> Date,
    }
}

diesel::table! {
    station_reports (id) {
        id -> Text,
        station_id -> Text,
        reporter_id -> Text,
        kind -> Text,
        note -> Nullable<Text>,
        status -> Text,
        resolution -> Nullable<Text>,
        resolved_by -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    plans (code) {
        code -> Text,
        sponsor_org_id -> Text,
        current_version -> Nullable<Integer>,
        latest_version -> Integer,
        next_certificate -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    plan_versions (plan_code, version) {
        plan_code -> Text,
        version -> Integer,
        status -> Text,
        name -> Text,
        description -> Text,
        enrollment_opens_on -> Text,
        enrollment_closes_on -> Text,
        coverage_starts_on -> Text,
        coverage_ends_on -> Text,
        occupations -> Text,
        region_codes -> Text,
        min_age -> Nullable<Integer>,
        max_age -> Nullable<Integer>,
        min_platform_tenure_months -> Nullable<Integer>,
        min_membership_days -> Nullable<Integer>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        published_by -> Nullable<Text>,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    plan_benefits (plan_code, version, code) {
        plan_code -> Text,
        version -> Integer,
        position -> Integer,
        code -> Text,
        name -> Text,
        kind -> Text,
        amount_fen -> Nullable<BigInt>,
        max_days -> Nullable<Integer>,
        percent_bp -> Nullable<Integer>,
        per_claim_cap_fen -> Nullable<BigInt>,
        yearly_cap_fen -> Nullable<BigInt>,
        illness_waiting_days -> Integer,
        accident_waiting_days -> Integer,
        documents -> Text,
    }
}

diesel::table! {
    enrollments (id) {
        id -> Text,
        plan_code -> Text,
        plan_version -> Integer,
        user_id -> Text,
        membership_id -> Text,
        certificate_no -> Text,
        effective_from -> Text,
        effective_to -> Text,
        source -> Text,
        roster_import_id -> Nullable<Text>,
        enrolled_at -> Timestamp,
    }
}

diesel::table! {
    stored_files (id) {
        id -> Text,
        object_key -> Text,
        purpose -> Text,
        owner -> Nullable<Text>,
        state -> Text,
        size -> Nullable<BigInt>,
        sha256 -> Nullable<Text>,
        wrapped_key -> Nullable<Text>,
        key_id -> Text,
        created_at -> Timestamp,
        stored_at -> Nullable<Timestamp>,
        attached_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    roster_imports (id) {
        id -> Text,
        plan_code -> Text,
        created_by -> Text,
        file_id -> Nullable<Text>,
        status -> Text,
        encoding -> Text,
        total_rows -> BigInt,
        processed_rows -> BigInt,
        enrolled -> BigInt,
        already_enrolled -> BigInt,
        not_members -> BigInt,
        ineligible -> BigInt,
        invalid_rows -> BigInt,
        failure -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    roster_import_errors (import_id, row_no) {
        import_id -> Text,
        row_no -> BigInt,
        id_number_masked -> Nullable<Text>,
        code -> Text,
        detail -> Text,
    }
}

diesel::table! {
    platform_starts (membership_id) {
        membership_id -> Text,
        started_on -> Text,
        roster_import_id -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    claims (id) {
        id -> Text,
        claimant_id -> Text,
        membership_id -> Text,
        org_id -> Text,
        org_path -> Text,
        enrollment_id -> Text,
        plan_code -> Text,
        plan_version -> Integer,
        benefit_code -> Text,
        status -> Text,
        incident_type -> Text,
        occurred_on -> Text,
        admitted_on -> Nullable<Text>,
        discharged_on -> Nullable<Text>,
        claimed_cost_fen -> Nullable<BigInt>,
        days -> Nullable<Integer>,
        amount_fen -> Nullable<BigInt>,
        approved_fen -> Nullable<BigInt>,
        payee_kind -> Nullable<Text>,
        assigned_to -> Nullable<Text>,
        approved_by -> Nullable<Text>,
        confirmed_by -> Nullable<Text>,
        waiting_since -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        submitted_at -> Nullable<Timestamp>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revision -> Integer,
    }
}

diesel::table! {
    claim_queue (org_id, claim_id) {
        org_id -> Text,
        claim_id -> Text,
        status -> Text,
        waiting_since -> Timestamp,
    }
}

diesel::table! {
    claim_details (claim_id) {
        claim_id -> Text,
        place -> Text,
        hospital_enc -> Nullable<Text>,
        diagnosis_enc -> Nullable<Text>,
        invoice_numbers -> Text,
        payee_holder_enc -> Nullable<Text>,
        payee_bank -> Nullable<Text>,
        payee_account_enc -> Nullable<Text>,
        payee_account_masked -> Nullable<Text>,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    claim_invoices (number) {
        number -> Text,
        claim_id -> Text,
    }
}

diesel::table! {
    claim_documents (id) {
        id -> Text,
        claim_id -> Text,
        kind -> Text,
        file_id -> Nullable<Text>,
        content_type -> Text,
        bytes -> BigInt,
        uploaded_at -> Timestamp,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    claim_document_reads (id) {
        id -> Text,
        claim_id -> Text,
        document_id -> Text,
        staff_id -> Text,
        read_at -> Timestamp,
    }
}

diesel::table! {
    claim_events (id) {
        id -> Text,
        claim_id -> Text,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        reason_code -> Nullable<Text>,
        note -> Nullable<Text>,
        amount_fen -> Nullable<BigInt>,
        for_claimant -> Bool,
    }
}

diesel::table! {
    claim_settings (org_id) {
        org_id -> Text,
        confirm_threshold_fen -> BigInt,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payouts (id) {
        id -> Text,
        claim_id -> Text,
        claimant_id -> Text,
        org_id -> Text,
        org_path -> Text,
        amount_fen -> BigInt,
        status -> Text,
        payee_kind -> Text,
        payee_claim_id -> Text,
        payee_request_id -> Nullable<Text>,
        batch_id -> Nullable<Text>,
        open_attempt_id -> Nullable<Text>,
        attempts -> Integer,
        failure_code -> Nullable<Text>,
        failure_detail -> Nullable<Text>,
        paid_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revision -> Integer,
    }
}

diesel::table! {
    payout_attempts (id) {
        id -> Text,
        payout_id -> Text,
        out_bill_no -> Text,
        channel -> Text,
        amount_fen -> BigInt,
        appid -> Nullable<Text>,
        openid -> Nullable<Text>,
        user_name_enc -> Nullable<Text>,
        remark -> Text,
        state -> Text,
        outcome_unknown -> Bool,
        sends -> Integer,
        transfer_bill_no -> Nullable<Text>,
        package_info -> Nullable<Text>,
        fail_reason -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        next_check_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        final_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payout_batches (id) {
        id -> Text,
        org_id -> Text,
        org_path -> Text,
        channel -> Text,
        status -> Text,
        payouts -> Integer,
        total_fen -> BigInt,
        created_by -> Text,
        approved_by -> Nullable<Text>,
        created_at -> Timestamp,
        approved_at -> Nullable<Timestamp>,
        file_taken_by -> Nullable<Text>,
        file_taken_at -> Nullable<Timestamp>,
        results_imported_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payout_events (id) {
        id -> Text,
        payout_id -> Text,
        attempt_id -> Nullable<Text>,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        reason_code -> Nullable<Text>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    payout_payee_requests (id) {
        id -> Text,
        payout_id -> Text,
        payee_kind -> Text,
        holder_enc -> Nullable<Text>,
        bank -> Nullable<Text>,
        account_enc -> Nullable<Text>,
        account_masked -> Nullable<Text>,
        reason -> Text,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payout_settings (org_id) {
        org_id -> Text,
        bank_template -> Text,
        result_template -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
        statement_template -> Nullable<Text>,
    }
}

diesel::table! {
    reconciliation_runs (id) {
        id -> Text,
        channel -> Text,
        statement_date -> Date,
        status -> Text,
        source -> Nullable<Text>,
        file_id -> Nullable<Text>,
        uploaded_by -> Nullable<Text>,
        statement_template -> Nullable<Text>,
        statement_lines -> BigInt,
        exceptions -> BigInt,
        summary -> Nullable<Text>,
        failure_code -> Nullable<Text>,
        failure_detail -> Nullable<Text>,
        tries -> Integer,
        overdue_notified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    reconciliation_items (run_id, seq) {
        run_id -> Text,
        seq -> BigInt,
        item_key -> Text,
        outcome -> Text,
        line -> Nullable<BigInt>,
        provider_no -> Nullable<Text>,
        reference -> Nullable<Text>,
        direction -> Nullable<Text>,
        statement_fen -> Nullable<BigInt>,
        booked_at -> Nullable<Timestamp>,
        attempt_id -> Nullable<Text>,
        out_bill_no -> Nullable<Text>,
        payout_id -> Nullable<Text>,
        our_fen -> Nullable<BigInt>,
        held -> Nullable<Text>,
        org_path -> Text,
    }
}

diesel::table! {
    reconciliation_match_pages (run_id, first_bill) {
        run_id -> Text,
        first_bill -> Text,
        last_bill -> Text,
        entries -> BigInt,
        body -> Text,
    }
}

diesel::table! {
    reconciliation_resolutions (id) {
        id -> Text,
        run_id -> Text,
        item_key -> Text,
        note -> Text,
        resolved_by -> Text,
        resolved_at -> Timestamp,
    }
}

diesel::joinable!(notification_deliveries -> notifications (notification_id));
diesel::joinable!(memberships -> orgs (org_id));
diesel::joinable!(claim_details -> claims (claim_id));
diesel::joinable!(claim_queue -> claims (claim_id));
diesel::joinable!(membership_applications -> orgs (org_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(membership_transfers -> memberships (membership_id));
diesel::joinable!(staff -> orgs (org_id));
diesel::joinable!(role_grants -> staff (staff_id));
diesel::joinable!(role_grants -> orgs (org_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(station_managers -> stations (station_id));
diesel::joinable!(station_managers -> staff (staff_id));
diesel::joinable!(stations -> orgs (org_id));

diesel::allow_tables_to_appear_in_same_query!(
    claims,
    claim_details,
    claim_queue,
    claim_invoices,
    claim_documents,
    claim_document_reads,
    claim_events,
    claim_settings,
    payouts,
    payout_attempts,
    payout_batches,
    payout_events,
    payout_payee_requests,
    payout_settings,
    reconciliation_items,
    reconciliation_match_pages,
    reconciliation_resolutions,
    reconciliation_runs,
    platform_starts,
    roster_imports,
    roster_import_errors,
    plans,
    plan_versions,
    plan_benefits,
    enrollments,
    idempotency_keys,
    orgs,
    users,
    staff,
    role_grants,
    sessions,
    refresh_tokens,
    membership_applications,
    memberships,
    membership_events,
    membership_transfers,
    card_sequences,
    membership_routes,
    org_membership_settings,
    pii_access_log,
    jobs,
    periodic_runs,
    notifications,
    notification_deliveries,
    devices,
    notification_preferences,
    jpush_cids,
    campaigns,
    campaign_push_batches,
    campaign_subscribe_batches,
    wechat_subscription_credits,
    stations,
    station_managers,
    station_locations,
    station_photos,
    station_visits,
    station_reports,
    stored_files,
);
