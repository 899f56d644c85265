import contextlib

from odoo.tools import SQL


@contextlib.contextmanager
def jit_disabled(cr):
    """Turn PostgreSQL's JIT compilation off for the statements of the block.

    The set-based refresh statements scan whole tables, so their estimated
    cost is far above ``jit_above_cost`` (100,000 by default) and PostgreSQL
    compiles them with LLVM first. On the benchmark data of
    bench/bench_segments.py (53,515 customers), EXPLAIN ANALYZE of the RFM
    statement showed 1.8 s of JIT compilation in a 2.9 s run. The setting is
    local to the transaction: it is restored when the block ends, and a
    rollback after an error restores it too.
    """
    cr.execute(SQL("SELECT current_setting('jit'), set_config('jit', 'off', true)"))
    previous = cr.fetchone()[0]
    yield
    cr.execute(SQL("SELECT set_config('jit', %s, true)", previous))
