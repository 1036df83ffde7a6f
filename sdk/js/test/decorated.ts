// Compiled by tsc (tsconfig.test.json) with standard decorators, as an
// application would: the @tracked test imports the output.
import { tracked } from "@alloy-curated/sdk/node";

export class Shop {
  @tracked("shopify.sync", { service_area: "shop" })
  async sync(partner: string): Promise<string> {
    if (!partner) throw new Error("no partner");
    return "synced " + partner;
  }

  @tracked()
  lookup(query: string): string {
    return "place:" + query;
  }
}
