"""Lab code of the perflab workbook: one package per chapter, one module per lab."""
