DROP TABLE roster_import_errors;
DROP TABLE roster_imports;
