"""The status report's charts as inline SVG: the timeline (plan and run) and the burn-up of host-steps.

Pure functions from a ``ProjectView`` to one ``<svg>`` element as text, one module per chart (``timeline``,
``burnup``), drawn with shared marks (``svg``), colours (``colours``) and a time axis (``time_axis``). Each chart
has an ``id``, a ``<title>``, and ``role="img"`` with an ``aria-label``, so that a page, a test or a screen
reader can find it; every bar and point has a ``<title>`` (a tooltip in a browser) and a ``class`` naming what
it shows (``bar batch passed``, ``point``). Labels are escaped. No plotting library: a few rectangles, lines and
words do not need one, and the page stays one self-contained file (no ``xmlns``: inline SVG in HTML takes its
namespace from the parser).
"""
