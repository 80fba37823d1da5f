// The demo vehicle registry's data: two cars, chosen so that between them every table shape occurs
// (ABC123, the plate of the examples, has a row in every table; XYZ789 has no accidents).

/** One row of a vehicle page table: machine key, human label, displayed value. */
export interface VehicleRow {
  key: string;
  label: string;
  value: string;
}

/** Everything the registry shows about one vehicle. */
export interface Vehicle {
  registration: VehicleRow[];
  specs: VehicleRow[];
  /** Odometer readings at inspections: key is the date (YYYY-MM-DD), value is whole kilometres. */
  odometer: VehicleRow[];
  /** Key is the date (YYYY-MM-DD), value the description. */
  accidents: VehicleRow[];
  /** Key is a machine name of the restriction (e.g. `lien`), value the description. */
  restrictions: VehicleRow[];
  photoCount: number;
}

function registration(plate: string, vin: string, firstRegistration: string, status: string): VehicleRow[] {
  return [
    { key: "plate", label: "Plate", value: plate },
    { key: "vin", label: "VIN", value: vin },
    { key: "first_registration", label: "First registration", value: firstRegistration },
    { key: "status", label: "Status", value: status },
  ];
}

function specs(s: Record<"brand" | "model" | "color" | "fuel" | "engine_cc" | "power_kw" | "seats", string>) {
  return [
    { key: "brand", label: "Brand", value: s.brand },
    { key: "model", label: "Model", value: s.model },
    { key: "color", label: "Colour", value: s.color },
    { key: "fuel", label: "Fuel", value: s.fuel },
    { key: "engine_cc", label: "Engine (cc)", value: s.engine_cc },
    { key: "power_kw", label: "Power (kW)", value: s.power_kw },
    { key: "seats", label: "Seats", value: s.seats },
  ];
}

function dated(entries: [string, string][]): VehicleRow[] {
  return entries.map(([date, value]) => ({ key: date, label: date, value }));
}

/** The registry's vehicles by normalised plate. */
export const VEHICLES: ReadonlyMap<string, Vehicle> = new Map([
  ["ABC123", {
    registration: registration("ABC123", "SCBFF63W3EC012345", "2014-06-12", "Active"),
    specs: specs({
      brand: "BENTLEY",
      model: "CONTINENTAL GT",
      color: "BLACK",
      fuel: "Petrol",
      engine_cc: "5998",
      power_kw: "423",
      seats: "4",
    }),
    odometer: dated([["2016-06-10", "41230"], ["2018-06-05", "78911"], ["2020-06-02", "104552"], [
      "2022-05-30",
      "129870",
    ]]),
    accidents: dated([["2019-11-03", "Front bumper and headlight damage, repaired"]]),
    restrictions: [{
      key: "alienation_ban",
      label: "Alienation ban",
      value: "Alienation and encumbrance ban in favour of Merkantil Bank",
    }],
    photoCount: 3,
  }],
  ["XYZ789", {
    registration: registration("XYZ789", "TSMMZC21S00123456", "2019-03-21", "Active"),
    specs: specs({
      brand: "SUZUKI",
      model: "SWIFT",
      color: "RED",
      fuel: "Petrol",
      engine_cc: "1242",
      power_kw: "66",
      seats: "5",
    }),
    odometer: dated([["2021-03-15", "38410"], ["2023-03-09", "71125"]]),
    accidents: [],
    restrictions: [{ key: "lien", label: "Lien", value: "Registered lien in favour of OTP Bank" }],
    photoCount: 2,
  }],
]);

/** Upper-cases a plate and drops spaces and dashes: "abc 123" and "ABC-123" are both ABC123. */
export function normalisePlate(input: string): string {
  return input.toUpperCase().replace(/[\s-]+/g, "");
}
