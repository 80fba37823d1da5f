CREATE TABLE "smartyard_address_grants" (
	"phone" text NOT NULL,
	"house_id" integer NOT NULL,
	"flat" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "smartyard_address_grants_pk" PRIMARY KEY("phone","house_id")
);
--> statement-breakpoint
CREATE TABLE "smartyard_app_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"session_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "smartyard_billing_cache" (
	"phone" text PRIMARY KEY NOT NULL,
	"addresses" jsonb,
	"addresses_at" timestamp with time zone,
	"contracts" jsonb,
	"contracts_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "smartyard_camera_grants" (
	"user_id" uuid NOT NULL,
	"camera_id" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "smartyard_camera_grants_pk" PRIMARY KEY("user_id","camera_id")
);
--> statement-breakpoint
CREATE TABLE "smartyard_cameras" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "smartyard_cameras_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"camera_id" uuid NOT NULL,
	"lat" text NOT NULL,
	"lon" text NOT NULL,
	"server_type" text,
	"hls_mode" text,
	"dvr_url" text,
	"has_sound" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "smartyard_cameras_camera_id_unique" UNIQUE("camera_id")
);
--> statement-breakpoint
CREATE TABLE "smartyard_doors" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"house_id" integer NOT NULL,
	"domophone_id" integer NOT NULL,
	"door_id" integer DEFAULT 0 NOT NULL,
	"entrance" text,
	"icon" text NOT NULL,
	"name" text NOT NULL,
	"open_url" text NOT NULL,
	"camera_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "smartyard_house_cameras" (
	"house_id" integer NOT NULL,
	"camera_id" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "smartyard_house_cameras_pk" PRIMARY KEY("house_id","camera_id")
);
--> statement-breakpoint
CREATE TABLE "smartyard_houses" (
	"id" integer PRIMARY KEY NOT NULL,
	"address" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "smartyard_invoices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"number" text NOT NULL,
	"user_id" uuid,
	"phone" text NOT NULL,
	"client_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"status" text NOT NULL,
	"bank_order_id" text,
	"form_url" text,
	"register_claimed_at" timestamp with time zone,
	"registered_at" timestamp with time zone,
	"paid_at" timestamp with time zone,
	"paid_via" text,
	"closed_reason" text,
	"last_polled_at" timestamp with time zone,
	"polls" integer DEFAULT 0 NOT NULL,
	"billing_notified_at" timestamp with time zone,
	"notify_claimed_at" timestamp with time zone,
	"notify_attempts" integer DEFAULT 0 NOT NULL,
	"notify_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "smartyard_invoices_number_unique" UNIQUE("number"),
	CONSTRAINT "smartyard_invoices_bank_order_id_unique" UNIQUE("bank_order_id")
);
--> statement-breakpoint
CREATE TABLE "smartyard_profiles" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"name" text,
	"patronymic" text,
	"notify_money" boolean DEFAULT true NOT NULL,
	"notify_enable" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "smartyard_push_tokens" (
	"session_id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"platform" text NOT NULL,
	"push_token" text NOT NULL,
	"push_service" text,
	"voip_token" text,
	"token_type" integer,
	"production" boolean,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "smartyard_address_grants" ADD CONSTRAINT "smartyard_address_grants_house_id_smartyard_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."smartyard_houses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_app_tokens" ADD CONSTRAINT "smartyard_app_tokens_session_id_auth_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."auth_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_app_tokens" ADD CONSTRAINT "smartyard_app_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_camera_grants" ADD CONSTRAINT "smartyard_camera_grants_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_camera_grants" ADD CONSTRAINT "smartyard_camera_grants_camera_id_cameras_id_fk" FOREIGN KEY ("camera_id") REFERENCES "public"."cameras"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_cameras" ADD CONSTRAINT "smartyard_cameras_camera_id_cameras_id_fk" FOREIGN KEY ("camera_id") REFERENCES "public"."cameras"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_doors" ADD CONSTRAINT "smartyard_doors_house_id_smartyard_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."smartyard_houses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_doors" ADD CONSTRAINT "smartyard_doors_camera_id_cameras_id_fk" FOREIGN KEY ("camera_id") REFERENCES "public"."cameras"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_house_cameras" ADD CONSTRAINT "smartyard_house_cameras_house_id_smartyard_houses_id_fk" FOREIGN KEY ("house_id") REFERENCES "public"."smartyard_houses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_house_cameras" ADD CONSTRAINT "smartyard_house_cameras_camera_id_cameras_id_fk" FOREIGN KEY ("camera_id") REFERENCES "public"."cameras"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_invoices" ADD CONSTRAINT "smartyard_invoices_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_profiles" ADD CONSTRAINT "smartyard_profiles_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_push_tokens" ADD CONSTRAINT "smartyard_push_tokens_session_id_auth_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."auth_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smartyard_push_tokens" ADD CONSTRAINT "smartyard_push_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "smartyard_address_grants_house_idx" ON "smartyard_address_grants" USING btree ("house_id");--> statement-breakpoint
CREATE INDEX "smartyard_app_tokens_session_idx" ON "smartyard_app_tokens" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "smartyard_app_tokens_user_idx" ON "smartyard_app_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "smartyard_doors_house_panel_idx" ON "smartyard_doors" USING btree ("house_id","domophone_id","door_id");--> statement-breakpoint
CREATE INDEX "smartyard_house_cameras_camera_idx" ON "smartyard_house_cameras" USING btree ("camera_id");--> statement-breakpoint
CREATE INDEX "smartyard_invoices_status_idx" ON "smartyard_invoices" USING btree ("status","registered_at");--> statement-breakpoint
CREATE INDEX "smartyard_invoices_phone_idx" ON "smartyard_invoices" USING btree ("phone","created_at");--> statement-breakpoint
CREATE INDEX "smartyard_push_tokens_user_idx" ON "smartyard_push_tokens" USING btree ("user_id");