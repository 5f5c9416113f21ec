"""List views: filters, sort, columns, saved views, paging, inline and bulk edit, export."""
