"""`make bench`: page and API timings on a large generated data set, beside their floors."""
