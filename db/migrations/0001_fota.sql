CREATE TABLE "firmware_releases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"device_type" text NOT NULL,
	"version" text NOT NULL,
	"version_key" text NOT NULL,
	"sort_key" text NOT NULL,
	"url" text NOT NULL,
	"sha256" text NOT NULL,
	"md5" text,
	"size" integer NOT NULL,
	"rollout_percent" integer DEFAULT 100 NOT NULL,
	"min_version" text,
	"notes" text,
	"paused" boolean DEFAULT false NOT NULL,
	"yanked_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fota_device_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"device_id" text NOT NULL,
	"device_type" text NOT NULL,
	"version_key" text NOT NULL,
	"first_reported_at" timestamp with time zone NOT NULL,
	"last_reported_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fota_devices" (
	"device_id" text PRIMARY KEY NOT NULL,
	"device_type" text NOT NULL,
	"version" text NOT NULL,
	"version_key" text NOT NULL,
	"source" text NOT NULL,
	"serial" text,
	"revision" text,
	"free_space" integer,
	"sketch_hash" text,
	"last_result" text NOT NULL,
	"last_reason" text,
	"last_release_id" uuid,
	"first_seen_at" timestamp with time zone NOT NULL,
	"last_check_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fota_offers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"release_id" uuid NOT NULL,
	"device_id" text NOT NULL,
	"offers" integer DEFAULT 0 NOT NULL,
	"first_offered_at" timestamp with time zone,
	"last_offered_at" timestamp with time zone,
	"refusals" integer DEFAULT 0 NOT NULL,
	"last_refused_at" timestamp with time zone,
	"last_refusal_reason" text
);
--> statement-breakpoint
ALTER TABLE "fota_devices" ADD CONSTRAINT "fota_devices_last_release_id_firmware_releases_id_fk" FOREIGN KEY ("last_release_id") REFERENCES "public"."firmware_releases"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fota_offers" ADD CONSTRAINT "fota_offers_release_id_firmware_releases_id_fk" FOREIGN KEY ("release_id") REFERENCES "public"."firmware_releases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "firmware_releases_type_version_idx" ON "firmware_releases" USING btree ("device_type","version_key");--> statement-breakpoint
CREATE UNIQUE INDEX "fota_device_versions_device_idx" ON "fota_device_versions" USING btree ("device_id","device_type","version_key");--> statement-breakpoint
CREATE INDEX "fota_device_versions_type_version_idx" ON "fota_device_versions" USING btree ("device_type","version_key");--> statement-breakpoint
CREATE INDEX "fota_devices_type_version_idx" ON "fota_devices" USING btree ("device_type","version_key");--> statement-breakpoint
CREATE UNIQUE INDEX "fota_offers_release_device_idx" ON "fota_offers" USING btree ("release_id","device_id");