CREATE TABLE "automation_artifacts" (
	"session_id" uuid NOT NULL,
	"name" text NOT NULL,
	"content_type" text NOT NULL,
	"size" integer NOT NULL,
	"bytes" "bytea" NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "automation_artifacts_pk" PRIMARY KEY("session_id","name")
);
--> statement-breakpoint
CREATE TABLE "automation_events" (
	"session_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "automation_events_pk" PRIMARY KEY("session_id","seq")
);
--> statement-breakpoint
CREATE TABLE "automation_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner" text NOT NULL,
	"flow" text NOT NULL,
	"status" text NOT NULL,
	"input" jsonb NOT NULL,
	"webhook_url" text,
	"progress" integer DEFAULT 0 NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"prompt" jsonb,
	"prompt_image" "bytea",
	"result" jsonb,
	"error" text,
	"error_step" text,
	"seq" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "automation_artifacts" ADD CONSTRAINT "automation_artifacts_session_id_automation_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."automation_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "automation_events" ADD CONSTRAINT "automation_events_session_id_automation_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."automation_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "automation_sessions_owner_idx" ON "automation_sessions" USING btree ("owner","created_at");--> statement-breakpoint
CREATE INDEX "automation_sessions_status_idx" ON "automation_sessions" USING btree ("status");