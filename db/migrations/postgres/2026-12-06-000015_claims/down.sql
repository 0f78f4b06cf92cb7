DROP TABLE claim_settings;
DROP TABLE claim_events;
DROP TABLE claim_document_reads;
DROP TABLE claim_documents;
DROP TABLE claim_invoices;
DROP TABLE claim_details;
DROP TABLE claim_queue;
DROP TABLE claims;
