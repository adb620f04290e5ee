"""Luigi tasks that Sluice runs as the tasks of its `orders-report` pipeline (sluice.json5).

Each Sluice task runs one `luigi` command against the central scheduler; Luigi still checks
`complete()` (the output file) and records the run in luigid, so its web UI shows what ran.
Outputs go to $ORDERS_OUTPUT (default: ./output).
"""

import os

import luigi


def output_dir():
    return os.environ.get("ORDERS_OUTPUT", "output")


class ExtractOrders(luigi.Task):
    """Writes the day's orders (made up here) as CSV."""

    date = luigi.DateParameter()

    def output(self):
        return luigi.LocalTarget(os.path.join(output_dir(), "orders-%s.csv" % self.date.isoformat()))

    def run(self):
        with self.output().open("w") as out:
            out.write("order,amount\n")
            for n in range(1, 4):
                out.write("%s-%d,%d\n" % (self.date.isoformat(), n, n * 10))


class OrdersReport(luigi.Task):
    """Sums the day's orders; needs ExtractOrders."""

    date = luigi.DateParameter()

    def requires(self):
        return ExtractOrders(date=self.date)

    def output(self):
        return luigi.LocalTarget(os.path.join(output_dir(), "report-%s.txt" % self.date.isoformat()))

    def run(self):
        with self.input().open() as rows:
            total = sum(int(line.split(",")[1]) for line in list(rows)[1:])
        with self.output().open("w") as out:
            out.write("%s total %d\n" % (self.date.isoformat(), total))
